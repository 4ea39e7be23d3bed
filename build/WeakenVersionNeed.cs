// An MSBuild task (loaded by build/TorchSharp.targets) that marks one symbol-version requirement of an ELF shared
// library as weak, in place.
//
// Why: libLibTorchSharp.so 0.107.0 asks for GLIBCXX_3.4.32 (GCC 13's libstdc++), which Debian 12 (GCC 12, up to
// 3.4.30) lacks, for a single symbol, _ZSt21ios_base_library_initv, that has no relocation: nothing calls it. The
// dynamic loader refuses a library whose version need is missing unless the need is marked weak (VER_FLG_WEAK), in
// which case it only warns. So the build sets that flag on that one entry of .gnu.version_r in the copy in the build
// output, and only when the host's libstdc++ lacks the version. Setting a flag that is already set changes nothing.
//
// ELF64 little-endian layout used here (elf.h):
//   header:   e_shoff at 0x28 (8 bytes), e_shentsize at 0x3A, e_shnum at 0x3C (2 bytes each)
//   section:  sh_type at +4 (4), sh_offset at +0x18 (8), sh_link at +0x28 (4: the string table's section)
//   Verneed:  vn_cnt at +2 (2), vn_aux at +8 (4), vn_next at +12 (4)
//   Vernaux:  vna_flags at +4 (2), vna_name at +8 (4: offset in the string table), vna_next at +12 (4)
using System;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

public class WeakenVersionNeed : Task
{
    const uint ShtGnuVerneed = 0x6ffffffe;
    const ushort VerFlgWeak = 0x2;

    /// <summary>The shared library to patch in place.</summary>
    [Required] public string Library { get; set; } = "";

    /// <summary>The version whose need becomes weak, e.g. GLIBCXX_3.4.32.</summary>
    [Required] public string Version { get; set; } = "";

    /// <summary>The host library that may provide the version; when it does, nothing is patched.</summary>
    [Required] public string HostLibrary { get; set; } = "";

    public override bool Execute()
    {
        if (!File.Exists(Library)) return true; // not this platform's build
        if (File.Exists(HostLibrary) && Contains(File.ReadAllBytes(HostLibrary), Encoding.ASCII.GetBytes(Version + "\0")))
        {
            Log.LogMessage(MessageImportance.Low, $"{HostLibrary} provides {Version}: {Path.GetFileName(Library)} left as shipped");
            return true;
        }
        var elf = File.ReadAllBytes(Library);
        if (elf.Length < 0x40 || elf[0] != 0x7f || elf[1] != 'E' || elf[2] != 'L' || elf[3] != 'F' || elf[4] != 2 || elf[5] != 1)
        {
            Log.LogError($"{Library} is not a 64-bit little-endian ELF file");
            return false;
        }
        var sectionTable = (long)BitConverter.ToUInt64(elf, 0x28);
        int entrySize = BitConverter.ToUInt16(elf, 0x3A), sections = BitConverter.ToUInt16(elf, 0x3C);
        for (var s = 0; s < sections; s++)
        {
            var section = sectionTable + (long)s * entrySize;
            if (BitConverter.ToUInt32(elf, (int)section + 4) != ShtGnuVerneed) continue;
            var strings = sectionTable + (long)BitConverter.ToUInt32(elf, (int)section + 0x28) * entrySize;
            var stringsAt = (long)BitConverter.ToUInt64(elf, (int)strings + 0x18);
            for (var need = (long)BitConverter.ToUInt64(elf, (int)section + 0x18); ; )
            {
                var count = BitConverter.ToUInt16(elf, (int)need + 2);
                var aux = need + BitConverter.ToUInt32(elf, (int)need + 8);
                for (var a = 0; a < count; a++)
                {
                    if (Name(elf, stringsAt + BitConverter.ToUInt32(elf, (int)aux + 8)) == Version)
                    {
                        var flags = BitConverter.ToUInt16(elf, (int)aux + 4);
                        if ((flags & VerFlgWeak) != 0) return true; // already weak: patched before
                        BitConverter.GetBytes((ushort)(flags | VerFlgWeak)).CopyTo(elf, (int)aux + 4);
                        File.WriteAllBytes(Library, elf);
                        Log.LogMessage(MessageImportance.High,
                            $"{Path.GetFileName(Library)}: the need for {Version} is now weak ({HostLibrary} lacks it; see build/WeakenVersionNeed.cs)");
                        return true;
                    }
                    aux += BitConverter.ToUInt32(elf, (int)aux + 12);
                }
                var next = BitConverter.ToUInt32(elf, (int)need + 12);
                if (next == 0) break;
                need += next;
            }
        }
        Log.LogMessage(MessageImportance.Low, $"{Library} does not ask for {Version}: nothing to patch");
        return true;
    }

    static string Name(byte[] elf, long at)
    {
        var end = Array.IndexOf(elf, (byte)0, (int)at);
        return Encoding.ASCII.GetString(elf, (int)at, end - (int)at);
    }

    // The task runs on the framework MSBuild was built for, so plain loops rather than spans.
    static bool Contains(byte[] haystack, byte[] needle)
    {
        for (var i = Array.IndexOf(haystack, needle[0]); i >= 0 && i <= haystack.Length - needle.Length; i = Array.IndexOf(haystack, needle[0], i + 1))
        {
            var j = 1;
            while (j < needle.Length && haystack[i + j] == needle[j]) j++;
            if (j == needle.Length) return true;
        }
        return false;
    }
}
