namespace Vib3.Storage.Device;

/// <summary>
/// Opens a log segment file for <see cref="DirectFileDevice"/>. Production opens it with open(2)
/// (<see cref="PosixSegmentOpener"/>); one that refuses O_DIRECT the way a file system does (EINVAL) makes the
/// device take its buffered fallback for real, with no flag in the device itself.
/// </summary>
public interface ISegmentOpener
{
    /// <summary>Opens <paramref name="path"/> (read-only, or read-write and created if missing), with O_DIRECT when
    /// <paramref name="direct"/>. Returns the file descriptor, or the negated errno when the open failed (as the raw
    /// system call does), so a refusal costs no exception.</summary>
    int Open(string path, bool readOnly, bool direct);
}
