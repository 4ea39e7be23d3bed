using System.Buffers.Binary;
using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Text.RegularExpressions;
using Verification.Engine.IO;

namespace Verification.Engine.Loading;

/// <summary>
/// NumPy's .npy format: the magic "\x93NUMPY", a version (1.0: 2-byte header length; 2.0/3.0: 4-byte), a Python dict
/// literal header ('descr', 'fortran_order', 'shape'), then the data. float32 and float16 little-endian are read; a
/// Fortran-ordered array, another dtype, or data shorter than the shape needs is an error naming the file.
/// </summary>
public static partial class Npy
{
    static readonly byte[] Magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    public static (float[] Values, int[] Shape) Read(byte[] bytes, string source) => ModelFileException.Guard(source, () => ReadChecked(bytes, source));

    static (float[] Values, int[] Shape) ReadChecked(byte[] bytes, string source)
    {
        if (bytes.Length < 10 || !bytes.AsSpan(0, 6).SequenceEqual(Magic))
            throw new ModelFileException(source, "not a .npy array (no \\x93NUMPY magic)");
        int major = bytes[6];
        int headerLength, offset;
        if (major == 1) { headerLength = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8)); offset = 10; }
        else if (major is 2 or 3)
        {
            if (bytes.Length < 12) throw new ModelFileException(source, "the .npy header runs past the end of the file");
            var length = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8));
            headerLength = length > int.MaxValue ? int.MaxValue : (int)length;
            offset = 12;
        }
        else throw new ModelFileException(source, $".npy version {major}.{bytes[7]} is not supported (1, 2 or 3)");
        if ((long)offset + headerLength > bytes.Length) throw new ModelFileException(source, "the .npy header runs past the end of the file");
        var header = Encoding.Latin1.GetString(bytes, offset, headerLength);
        var descr = Descr().Match(header);
        var fortran = Fortran().Match(header);
        var shapeMatch = ShapePattern().Match(header);
        if (!descr.Success || !fortran.Success || !shapeMatch.Success)
            throw new ModelFileException(source, $"the .npy header is not a dict with descr, fortran_order and shape: {header.Trim()}");
        if (fortran.Groups[1].Value == "True") throw new ModelFileException(source, "Fortran-ordered arrays are not supported");
        var shape = shapeMatch.Groups[1].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(s => int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var d)
                ? d : throw new ModelFileException(source, $"shape entry '{s}' is not a dimension (a non-negative integer below 2³¹)"))
            .ToArray();
        long count;
        try { count = shape.Aggregate(1L, (a, d) => checked(a * d)); }
        catch (OverflowException) { throw new ModelFileException(source, $"shape ({string.Join(", ", shape)}) has more elements than any file holds"); }
        if (count > Array.MaxLength) throw new ModelFileException(source, $"shape ({string.Join(", ", shape)}) has more elements than one array holds");
        var dataStart = offset + headerLength;
        var dtype = descr.Groups[1].Value;
        var size = dtype switch
        {
            "<f4" or "=f4" => 4,
            "<f2" or "=f2" => 2,
            _ => throw new ModelFileException(source, $"dtype '{dtype}' is not supported (little-endian float32 '<f4' or float16 '<f2')"),
        };
        if (dataStart + count * size != bytes.Length)
            throw new ModelFileException(source, $"shape ({string.Join(", ", shape)}) of {dtype} needs {count * size} bytes but the data holds {bytes.Length - dataStart}");
        var values = new float[count];
        for (var i = 0; i < count; i++)
            values[i] = size == 4
                ? BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(dataStart + 4 * i))
                : (float)BinaryPrimitives.ReadHalfLittleEndian(bytes.AsSpan(dataStart + 2 * i));
        return (values, shape);
    }

    /// <summary>A float32 array as .npy version 1.0 bytes, header padded to a multiple of 64 as NumPy writes it.</summary>
    public static byte[] Write(float[] values, int[] shape)
    {
        var shapeText = shape.Length == 1 ? $"({shape[0]},)" : "(" + string.Join(", ", shape) + ")";
        var dict = $"{{'descr': '<f4', 'fortran_order': False, 'shape': {shapeText}, }}";
        var total = 10 + dict.Length + 1;
        var padding = (64 - total % 64) % 64;
        var header = dict + new string(' ', padding) + "\n";
        var bytes = new byte[10 + header.Length + values.Length * 4];
        Magic.CopyTo(bytes, 0);
        bytes[6] = 1;
        bytes[7] = 0;
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(8), (ushort)header.Length);
        Encoding.Latin1.GetBytes(header).CopyTo(bytes, 10);
        for (var i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(10 + header.Length + 4 * i), values[i]);
        return bytes;
    }

    /// <summary>Every array in an .npz (a zip of .npy files), by name without the .npy extension.</summary>
    public static Dictionary<string, (float[] Values, int[] Shape)> ReadArchive(string path) => ModelFileException.Guard(path, () => ReadArchiveChecked(path));

    static Dictionary<string, (float[] Values, int[] Shape)> ReadArchiveChecked(string path)
    {
        ModelFileException.NeedFile(path);
        var arrays = new Dictionary<string, (float[], int[])>();
        try
        {
            using var zip = ZipFile.OpenRead(path);
            foreach (var entry in zip.Entries)
            {
                using var stream = entry.Open();
                using var memory = new MemoryStream();
                stream.CopyTo(memory);
                var name = entry.FullName.EndsWith(".npy", StringComparison.Ordinal) ? entry.FullName[..^4] : entry.FullName;
                if (arrays.ContainsKey(name)) throw new ModelFileException(path, $"array '{name}' appears twice in the archive");
                arrays[name] = Read(memory.ToArray(), $"{path}:{entry.FullName}");
            }
        }
        catch (InvalidDataException e)
        {
            throw new ModelFileException(path, "not a valid .npz (zip) archive: " + e.Message);
        }
        return arrays;
    }

    public static void WriteArchive(string path, IEnumerable<(string Name, float[] Values, int[] Shape)> arrays)
    {
        AtomicFile.Write(path, file =>
        {
            using var zip = new ZipArchive(file, ZipArchiveMode.Create, leaveOpen: true);
            foreach (var (name, values, shape) in arrays)
            {
                var entry = zip.CreateEntry(name + ".npy", CompressionLevel.Optimal);
                entry.LastWriteTime = new DateTimeOffset(1980, 1, 1, 0, 0, 0, TimeSpan.Zero);
                using var stream = entry.Open();
                stream.Write(Write(values, shape));
            }
        });
    }

    [GeneratedRegex(@"'descr'\s*:\s*'([^']*)'")]
    private static partial Regex Descr();

    [GeneratedRegex(@"'fortran_order'\s*:\s*(True|False)")]
    private static partial Regex Fortran();

    [GeneratedRegex(@"'shape'\s*:\s*\(([^)]*)\)")]
    private static partial Regex ShapePattern();
}
