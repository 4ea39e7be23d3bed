using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Verification.Engine.Tensors;
using Verification.Engine.IO;

namespace Verification.Engine.Loading;

/// <summary>One tensor's entry in a safetensors header; offsets are relative to the start of the data section.</summary>
public sealed record SafeTensorInfo(string Name, string DType, int[] Shape, long Start, long End)
{
    /// <summary>The product of the shape; checked, so an absurd shape overflows loudly instead of wrapping around.</summary>
    public long ElementCount => Shape.Aggregate(1L, (a, d) => checked(a * d));
}

/// <summary>One tensor to write: its name, dtype (F32 or I32), shape, and code that writes its little-endian bytes.</summary>
public sealed record StreamedTensor(string Name, string DType, int[] Shape, Action<Stream> Write)
{
    public long ByteLength => Shape.Aggregate(4L, (a, d) => checked(a * d));
}

/// <summary>
/// The safetensors format: an 8-byte little-endian header length N, N bytes of JSON naming each tensor's dtype,
/// shape and byte range, then the data. Every entry is checked when the file is opened (known dtype, offsets
/// inside the data, size agreeing with the shape), so a malformed file fails at once with the file and tensor named.
/// </summary>
public sealed class SafeTensors : ITensorFile
{
    static readonly Dictionary<string, int> DTypeSizes = new()
    {
        ["F64"] = 8, ["F32"] = 4, ["F16"] = 2, ["BF16"] = 2, ["I64"] = 8, ["I32"] = 4, ["I16"] = 2, ["I8"] = 1, ["U8"] = 1, ["BOOL"] = 1,
    };

    const long MaxHeaderBytes = 100_000_000;

    readonly long dataStart;

    SafeTensors(string path, long dataStart, Dictionary<string, SafeTensorInfo> tensors, Dictionary<string, string> metadata)
    {
        Path = path;
        this.dataStart = dataStart;
        Tensors = tensors;
        Metadata = metadata;
    }

    public string Path { get; }

    /// <summary>The tensors in the order of the file's data.</summary>
    public IReadOnlyDictionary<string, SafeTensorInfo> Tensors { get; }

    public IReadOnlyDictionary<string, string> Metadata { get; }

    public static SafeTensors Open(string path) => ModelFileException.Guard(path, () => OpenChecked(path));

    static SafeTensors OpenChecked(string path)
    {
        ModelFileException.NeedFile(path);
        using var stream = File.OpenRead(path);
        var length = stream.Length;
        if (length < 8) throw new ModelFileException(path, $"only {length} bytes: too short for a safetensors header (8-byte length + JSON)");
        Span<byte> lengthBytes = stackalloc byte[8];
        stream.ReadExactly(lengthBytes);
        var headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        if (headerLength > MaxHeaderBytes || (long)headerLength > length - 8)
            throw new ModelFileException(path, $"header length {headerLength} does not fit a file of {length} bytes (not safetensors, or truncated)");
        var headerBytes = new byte[headerLength];
        stream.ReadExactly(headerBytes);
        var dataStart = 8 + (long)headerLength;
        var dataLength = length - dataStart;

        JsonFile.CheckUtf8(path, headerBytes, "the header");
        JsonDocument header;
        try { header = JsonDocument.Parse(headerBytes); }
        catch (JsonException e) { throw new ModelFileException(path, "header is not valid JSON: " + e.Message); }
        using var _ = header;
        if (header.RootElement.ValueKind != JsonValueKind.Object) throw new ModelFileException(path, "header is not a JSON object");

        var tensors = new List<SafeTensorInfo>();
        var metadata = new Dictionary<string, string>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in header.RootElement.EnumerateObject())
        {
            // JSON allows a key twice; a checkpoint with two tensors of one name is ambiguous.
            if (!names.Add(entry.Name)) throw new ModelFileException(path, "appears twice in the header", entry.Name);
            if (entry.Name == "__metadata__")
            {
                if (entry.Value.ValueKind == JsonValueKind.Object)
                    foreach (var m in entry.Value.EnumerateObject()) metadata[m.Name] = m.Value.ToString();
                continue;
            }
            tensors.Add(ParseEntry(path, entry, dataLength));
        }
        var ordered = tensors.OrderBy(t => t.Start).ToList();
        for (var i = 1; i < ordered.Count; i++)
            if (ordered[i].Start < ordered[i - 1].End)
                throw new ModelFileException(path, $"data overlaps tensor '{ordered[i - 1].Name}' (bytes {ordered[i].Start}..{ordered[i].End})", ordered[i].Name);
        return new SafeTensors(path, dataStart, ordered.ToDictionary(t => t.Name), metadata);
    }

    static SafeTensorInfo ParseEntry(string path, JsonProperty entry, long dataLength)
    {
        var name = entry.Name;
        var value = entry.Value;
        if (value.ValueKind != JsonValueKind.Object ||
            !value.TryGetProperty("dtype", out var dtypeElement) ||
            !value.TryGetProperty("shape", out var shapeElement) ||
            !value.TryGetProperty("data_offsets", out var offsetsElement))
            throw new ModelFileException(path, "header entry needs dtype, shape and data_offsets", name);
        if (dtypeElement.ValueKind != JsonValueKind.String) throw new ModelFileException(path, $"dtype must be a string, not {dtypeElement.ValueKind}", name);
        if (shapeElement.ValueKind != JsonValueKind.Array || offsetsElement.ValueKind != JsonValueKind.Array)
            throw new ModelFileException(path, "shape and data_offsets must be arrays of integers", name);
        var dtype = dtypeElement.GetString() ?? "";
        if (!DTypeSizes.TryGetValue(dtype, out var elementSize))
            throw new ModelFileException(path, $"unknown dtype '{dtype}' (known: {string.Join(", ", DTypeSizes.Keys)})", name);
        int[] shape;
        long[] offsets;
        try
        {
            shape = shapeElement.EnumerateArray().Select(e => e.GetInt32()).ToArray();
            offsets = offsetsElement.EnumerateArray().Select(e => e.GetInt64()).ToArray();
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException)
        {
            throw new ModelFileException(path, "shape and data_offsets must be arrays of integers", name);
        }
        if (shape.Any(d => d < 0)) throw new ModelFileException(path, $"negative dimension in shape {Tensor.Format(shape)}", name);
        if (offsets.Length != 2) throw new ModelFileException(path, "data_offsets must be [start, end]", name);
        var (start, end) = (offsets[0], offsets[1]);
        if (start < 0 || end < start)
            throw new ModelFileException(path, $"data_offsets [{start}, {end}] are not a byte range", name);
        if (end > dataLength)
            throw new ModelFileException(path, $"data_offsets [{start}, {end}] end past the data section ({dataLength} bytes): the file is truncated or the header is wrong", name);
        var info = new SafeTensorInfo(name, dtype, shape, start, end);
        long elements;
        try { elements = info.ElementCount; }
        catch (OverflowException) { throw new ModelFileException(path, $"shape {Tensor.Format(shape)} has more elements than any file can hold", name); }
        if (elements == 0) throw new ModelFileException(path, $"shape {Tensor.Format(shape)} holds no values: a zero-size tensor is no weight", name);
        if (elements > Array.MaxLength || elements > long.MaxValue / elementSize)
            throw new ModelFileException(path, $"shape {Tensor.Format(shape)} has {elements} elements, more than one array can hold", name);
        if (elements * elementSize != end - start)
            throw new ModelFileException(path,
                $"shape {Tensor.Format(shape)} of {dtype} needs {info.ElementCount * elementSize} bytes but data_offsets span {end - start}", name);
        return info;
    }

    public IEnumerable<string> Names => Tensors.Keys;

    public bool Contains(string name) => Tensors.ContainsKey(name);

    public SafeTensorInfo Info(string name) =>
        Tensors.TryGetValue(name, out var info)
            ? info
            : throw new ModelFileException(Path, $"no such tensor (the file has {Tensors.Count}: {Preview(Tensors.Keys)})", name);

    /// <summary>A floating-point tensor (F32, F16, BF16 or F64) as float32.</summary>
    public Tensor Read(string name)
    {
        var info = Info(name);
        var values = new float[info.ElementCount];
        if (info.DType == "F32" && BitConverter.IsLittleEndian)
        {
            // Straight into the float array: no byte copy beside it (a GPT-2-large embedding is 257 MB).
            using var stream = File.OpenRead(Path);
            stream.Seek(dataStart + info.Start, SeekOrigin.Begin);
            try { stream.ReadExactly(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan())); }
            catch (EndOfStreamException) { throw new ModelFileException(Path, "the file ended inside this tensor's data (truncated)", info.Name); }
            return new Tensor(values, info.Shape) { Name = name };
        }
        var bytes = ReadBytes(info);
        switch (info.DType)
        {
            case "F32":
                for (var i = 0; i < values.Length; i++) values[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(i * 4));
                break;
            case "F16":
                for (var i = 0; i < values.Length; i++) values[i] = (float)BinaryPrimitives.ReadHalfLittleEndian(bytes.AsSpan(i * 2));
                break;
            case "BF16":
                for (var i = 0; i < values.Length; i++)
                    values[i] = BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(i * 2)) << 16);
                break;
            case "F64":
                for (var i = 0; i < values.Length; i++) values[i] = (float)BinaryPrimitives.ReadDoubleLittleEndian(bytes.AsSpan(i * 8));
                break;
            default:
                throw new ModelFileException(Path, $"dtype {info.DType} is not a floating-point type (use ReadInts)", name);
        }
        return new Tensor(values, info.Shape) { Name = name };
    }

    /// <summary>An integer tensor (I64, I32, I16, I8, U8, BOOL) as int32 values and its shape.</summary>
    public (int[] Values, int[] Shape) ReadInts(string name)
    {
        var info = Info(name);
        var bytes = ReadBytes(info);
        var values = new int[info.ElementCount];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = info.DType switch
            {
                "I64" => Int32(BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(i * 8)), i, name),
                "I32" => BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(i * 4)),
                "I16" => BinaryPrimitives.ReadInt16LittleEndian(bytes.AsSpan(i * 2)),
                "I8" => (sbyte)bytes[i],
                "U8" or "BOOL" => bytes[i],
                _ => throw new ModelFileException(Path, $"dtype {info.DType} is not an integer type (use Read)", name),
            };
        }
        return (values, info.Shape);
    }

    int Int32(long value, int index, string name) => value is >= int.MinValue and <= int.MaxValue
        ? (int)value : throw new ModelFileException(Path, $"value {value} at index {index} does not fit a 32-bit integer", name);

    byte[] ReadBytes(SafeTensorInfo info)
    {
        using var stream = File.OpenRead(Path);
        stream.Seek(dataStart + info.Start, SeekOrigin.Begin);
        var bytes = new byte[info.End - info.Start];
        try { stream.ReadExactly(bytes); }
        catch (EndOfStreamException) { throw new ModelFileException(Path, "the file ended inside this tensor's data (truncated)", info.Name); }
        return bytes;
    }

    /// <summary>Writes float32 tensors (and optional int32 tensors) with metadata, tensors in the given order.</summary>
    public static void Write(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null,
        IEnumerable<KeyValuePair<string, (int[] Values, int[] Shape)>>? ints = null)
    {
        var entries = tensors.Select(kv => new StreamedTensor(kv.Key, "F32", kv.Value.Shape, stream => WriteLittleEndian(stream, kv.Value.Data))).ToList();
        entries.AddRange((ints ?? []).Select(kv => new StreamedTensor(kv.Key, "I32", kv.Value.Shape, stream => WriteLittleEndian(stream, kv.Value.Values))));
        WriteStreamed(path, entries, metadata);
    }

    /// <summary>
    /// Writes tensors whose bytes each entry streams itself, one after the other: a file of any size is written without
    /// holding a second copy of its weights (nor any, for weights made as they are written).
    /// </summary>
    public static void WriteStreamed(string path, IReadOnlyList<StreamedTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        using var json = new MemoryStream();
        using (var writer = new Utf8JsonWriter(json))
        {
            writer.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                writer.WriteStartObject("__metadata__");
                foreach (var (k, v) in metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal)) writer.WriteString(k, v);
                writer.WriteEndObject();
            }
            long offset = 0;
            foreach (var e in tensors)
            {
                writer.WriteStartObject(e.Name);
                writer.WriteString("dtype", e.DType);
                writer.WriteStartArray("shape");
                foreach (var d in e.Shape) writer.WriteNumberValue(d);
                writer.WriteEndArray();
                writer.WriteStartArray("data_offsets");
                writer.WriteNumberValue(offset);
                writer.WriteNumberValue(offset + e.ByteLength);
                writer.WriteEndArray();
                writer.WriteEndObject();
                offset += e.ByteLength;
            }
            writer.WriteEndObject();
        }
        // Pad the header with spaces to a multiple of 8 bytes, as the reference implementation does.
        var headerBytes = json.ToArray().ToList();
        while (headerBytes.Count % 8 != 0) headerBytes.Add((byte)' ');
        AtomicFile.Write(path, file =>
        {
            var lengthBytes = new byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(lengthBytes, (ulong)headerBytes.Count);
            file.Write(lengthBytes);
            file.Write(headerBytes.ToArray());
            foreach (var e in tensors)
            {
                var start = file.Position;
                e.Write(file);
                if (file.Position - start != e.ByteLength)
                    throw new InvalidOperationException($"Tensor '{e.Name}' wrote {file.Position - start} bytes; its shape {Tensor.Format(e.Shape)} needs {e.ByteLength}.");
            }
        });
    }

    /// <summary>Values as little-endian bytes, in chunks (no copy of the whole array on a little-endian machine).</summary>
    public static void WriteLittleEndian<T>(Stream stream, ReadOnlySpan<T> values) where T : unmanaged
    {
        if (BitConverter.IsLittleEndian)
        {
            stream.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values));
            return;
        }
        var bytes = new byte[4];
        foreach (var v in values)
        {
            switch (v)
            {
                case float f: BinaryPrimitives.WriteSingleLittleEndian(bytes, f); break;
                case int i: BinaryPrimitives.WriteInt32LittleEndian(bytes, i); break;
                default: throw new NotSupportedException($"{typeof(T).Name} values are not written.");
            }
            stream.Write(bytes);
        }
    }

    public static void Write(string path, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null) =>
        Write(path, tensors.AsEnumerable(), metadata);

    static string Preview(IEnumerable<string> names)
    {
        var list = names.Take(6).ToList();
        return string.Join(", ", list) + (names.Count() > 6 ? ", …" : "");
    }

    public override string ToString() => $"{System.IO.Path.GetFileName(Path)} ({Tensors.Count} tensors)";
}
