namespace CnnFixations;

/// <summary>A failure caused by the input (model, image, arguments), reported to the user as one line.</summary>
public class CnnFixationsException : Exception
{
    /// <summary>A failure described by one line.</summary>
    public CnnFixationsException(string message) : base(message) { }

    /// <summary>A failure described by one line, caused by <paramref name="inner"/>.</summary>
    public CnnFixationsException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>A model uses an operator (or an operator form) that no unravel rule covers.</summary>
public sealed class UnsupportedOperatorException : CnnFixationsException
{
    /// <summary>The operator and node described by one line.</summary>
    public UnsupportedOperatorException(string message) : base(message) { }
}
