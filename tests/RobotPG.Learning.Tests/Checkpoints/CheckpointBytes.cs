using System.Buffers.Binary;
using System.IO.Hashing;

namespace RobotPG.Learning.Tests.Checkpoints;

/// <summary>
/// Reads and rewrites a checkpoint's sections as bytes (16-byte header, sections of id | length | body, CRC-32), to
/// build files that pass the envelope checks but hold a bad section. Linked into the controller's tests.
/// </summary>
internal static class CheckpointBytes
{
    public const uint ReplaySection = 8, ShuffleSection = 9, PendingSection = 10;

    /// <summary>The body of section <paramref name="id"/> (the layout: 16-byte header, sections of id | length | body, CRC).</summary>
    public static ReadOnlySpan<byte> Section(byte[] bytes, uint id)
    {
        var (start, length) = Find(bytes, id);
        return bytes.AsSpan(start, length);
    }

    public static (int Start, int Length) Find(byte[] bytes, uint id)
    {
        int end = bytes.Length - 4;
        for (int at = 16; at < end;)
        {
            uint sid = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(at));
            int length = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(at + 4));
            if (sid == id) return (at + 8, length);
            at += 8 + length;
        }
        throw new ArgumentException($"no section {id}");
    }

    /// <summary>The checkpoint without section <paramref name="id"/> (as a build before that section wrote it), length and CRC made right.</summary>
    public static byte[] Without(byte[] bytes, uint id)
    {
        var (start, length) = Find(bytes, id);
        byte[] result = [.. bytes.AsSpan(0, start - 8), .. bytes.AsSpan(start + length)];
        BinaryPrimitives.WriteUInt32LittleEndian(result.AsSpan(12), (uint)(result.Length - 16 - 4));
        BinaryPrimitives.WriteUInt32LittleEndian(result.AsSpan(result.Length - 4), Crc32.HashToUInt32(result.AsSpan(0, result.Length - 4)));
        return result;
    }

    /// <summary>The checkpoint with section <paramref name="id"/>'s body replaced, lengths and CRC made right again.</summary>
    public static byte[] WithSection(byte[] bytes, uint id, byte[] body)
    {
        var (start, length) = Find(bytes, id);
        byte[] result = [.. bytes.AsSpan(0, start - 4), .. new byte[4], .. body, .. bytes.AsSpan(start + length, bytes.Length - 4 - start - length), .. new byte[4]];
        BinaryPrimitives.WriteInt32LittleEndian(result.AsSpan(start - 4), body.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(result.AsSpan(12), (uint)(result.Length - 16 - 4));
        BinaryPrimitives.WriteUInt32LittleEndian(result.AsSpan(result.Length - 4), Crc32.HashToUInt32(result.AsSpan(0, result.Length - 4)));
        return result;
    }
}
