namespace CnnFixations;

/// <summary>A failure caused by the input (model, image, arguments), reported to the user as one line.</summary>
public class CnnFixationsException : Exception
{
    public CnnFixationsException(string message) : base(message) { }
    public CnnFixationsException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>A model uses an operator (or an operator form) that no unravel rule covers.</summary>
public sealed class UnsupportedOperatorException : CnnFixationsException
{
    public UnsupportedOperatorException(string message) : base(message) { }
}
