using CnnFixations.Onnx;
using CnnFixations.Unravel.Rules;

namespace CnnFixations.Unravel;

/// <summary>The unravel rules by op type. <see cref="Default"/> holds every rule of the specification.</summary>
public sealed class RuleSet
{
    private readonly Dictionary<string, IUnravelRule> _byOp = new(StringComparer.Ordinal);

    public RuleSet(IEnumerable<IUnravelRule> rules)
    {
        foreach (var rule in rules)
            foreach (var op in rule.OpTypes)
                if (!_byOp.TryAdd(op, rule)) throw new ArgumentException($"two rules handle {op}");
    }

    public static RuleSet Default { get; } = new(new IUnravelRule[]
    {
        new FullyConnectedRule(),
        new ConvRule(),
        new WindowPoolRule(),
        new GlobalPoolRule(),
        new PassThroughRule(),
        new ReshapeRule(),
        new TransposeRule(),
        new PadRule(),
        new AddRule(),
        new ConcatRule(),
        new MulRule(),
        new ConstantOperandRule(),
    });

    /// <summary>The rule for a node, or null when no rule covers it.</summary>
    public IUnravelRule? Find(GraphNode node) =>
        node.IsDefaultDomain && _byOp.TryGetValue(node.OpType, out var rule) ? rule : null;

    /// <summary>The rule for a node that the walk reached; an op no rule covers stops the walk with an error naming it (spec rule 12).</summary>
    public IUnravelRule Require(GraphNode node) => Find(node) ?? throw new UnsupportedOperatorException(
        node.IsDefaultDomain
            ? $"{node.Describe()}: op type {node.OpType} is not supported by CNN Fixations (no unravel rule covers it)"
            : $"{node.Describe()}: op type {node.OpType} from domain '{node.Domain}' is not supported (only default-domain ONNX ops have unravel rules)");

    public IEnumerable<string> OpTypes => _byOp.Keys.Order(StringComparer.Ordinal);
}
