namespace Verification.Engine;

/// <summary>
/// The engine's one kind of ambient state: a value set for the length of a <c>using</c> block on the current flow of
/// execution (an <see cref="AsyncLocal{T}"/>, so it follows the code that set it and nothing else). The recording
/// autodiff tape and a forced matrix backend are the two.
/// </summary>
public sealed class Ambient<T>
{
    readonly AsyncLocal<T> value = new();

    public T? Value => value.Value;

    /// <summary>Sets the value until the returned scope is disposed, then restores the one before.</summary>
    public IDisposable Set(T newValue)
    {
        var previous = value.Value;
        value.Value = newValue;
        return new Scope(this, previous);
    }

    sealed class Scope(Ambient<T> owner, T? previous) : IDisposable
    {
        bool disposed;

        public void Dispose()
        {
            if (disposed) return;
            disposed = true;
            owner.value.Value = previous!;
        }
    }
}
