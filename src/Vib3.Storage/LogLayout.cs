using System.Globalization;
using System.Numerics;
using FASTER.core;
using Vib3.Core;
using Vib3.Storage.Device;

namespace Vib3.Storage;

/// <summary>
/// The FASTER log geometry of a store, fixed at conversion time and persisted next to the log,
/// because FASTER logical addresses only mean something under the same page and segment sizes.
/// </summary>
/// <remarks>
/// On disk: storeDir/log/layout.txt, UTF-8 "key=value" lines:
/// <code>
/// page_size_bits=N      FASTER page = 2^N bytes
/// segment_size_bits=N   FASTER segment file = 2^N bytes
/// max_page_bytes=N      the writer's limit on one vib3 page
/// </code>
/// Segment files are log/pages.log.0, .1, ...; FASTER commit metadata lives in log/log-commits/.
/// </remarks>
internal sealed record LogLayout(int PageSizeBits, int SegmentSizeBits, int MaxPageBytes)
{
    public const string LogDirName = "log";
    public const string SegmentBaseName = "pages.log";
    public const string FileName = "layout.txt";

    /// <summary>
    /// FASTER never splits a record across its pages, and each record carries a 4-byte header
    /// (more with per-entry checksums, which we don't use: XxHash64 in the page table covers it).
    /// 64 bytes of margin covers header and alignment with room to spare.
    /// </summary>
    public const int RecordMargin = 64;

    /// <summary>
    /// Floor on the FASTER page: every page flush is one write, so tiny FASTER pages would mean
    /// one small write per vib3 page; 1 MiB also keeps writes a multiple of the O_DIRECT sector.
    /// </summary>
    public const int MinPageSizeBits = 20;

    /// <summary>
    /// FASTER pages hold at least this many largest-size records. A record never spans FASTER
    /// pages, so with the smallest page that fits one record, power-of-two vib3 pages (the common
    /// case) would leave every FASTER page half empty: measured 4.29 GB of segments for 2.15 GB
    /// of 1 MiB pages. With room for 8 the tail waste is at most ~1/8.
    /// </summary>
    public const int RecordsPerPage = 8;

    /// <summary>FASTER keeps page offsets in an int: 2^30 is its largest page.</summary>
    public const int MaxPageSizeBits = 30;

    /// <summary>Writer keeps this many FASTER pages in memory: one filling, the rest flushing.</summary>
    public const int WriterMemoryPages = 4;

    public long PageSize => 1L << PageSizeBits;
    public long SegmentSize => 1L << SegmentSizeBits;

    public static LogLayout ForMaxPage(int maxPageBytes)
    {
        if (maxPageBytes <= 0 || maxPageBytes > (1 << 30) - RecordMargin)
            throw new Vib3Exception(SqlState.InvalidParameterValue,
                $"maxPageBytes {maxPageBytes} is out of range (1 .. {ByteSize.Format((1 << 30) - RecordMargin)})");
        long record = maxPageBytes + RecordMargin;
        int fitsOne = CeilLog2(record);
        int bits = Math.Clamp(CeilLog2(record * RecordsPerPage), Math.Max(MinPageSizeBits, fitsOne), Math.Max(MaxPageSizeBits, fitsOne));
        // 1 GiB segments keep the file count low for 100+ GB models; never smaller than a page.
        return new LogLayout(bits, Math.Max(30, bits), maxPageBytes);
    }

    private static int CeilLog2(long v) => 64 - BitOperations.LeadingZeroCount((ulong)(v - 1));

    public FasterLogSettings WriterSettings(IDevice device, string logDir) => new()
    {
        LogDevice = device,
        PageSize = PageSize,
        // Always explicit: FASTER's default would size the buffer independent of our pages.
        MemorySize = PageSize * WriterMemoryPages,
        SegmentSize = SegmentSize,
        LogCommitDir = logDir,
        AutoCommit = false,                 // we commit once, in Complete()
        AutoRefreshSafeTailAddress = false, // no concurrent scanners of an unfinished log
        TryRecoverLatest = false,           // a new store starts empty
        LogChecksum = LogChecksumType.None, // the page table's XxHash64 covers every page
    };

    /// <summary>
    /// Read-only mode: FASTER allocates no page buffer at all (memory bits 0, HeadAddress = max),
    /// so every read goes to the device and RAM spent is only the per-read aligned buffers.
    /// </summary>
    public FasterLogSettings ReaderSettings(IDevice device, string logDir) => new()
    {
        LogDevice = device,
        PageSize = PageSize,
        MemorySize = PageSize,
        SegmentSize = SegmentSize,
        LogCommitDir = logDir,
        ReadOnlyMode = true,
        AutoCommit = false,
        AutoRefreshSafeTailAddress = false,
        TryRecoverLatest = true,
        RemoveOutdatedCommits = false,
        LogChecksum = LogChecksumType.None,
    };

    /// <summary>
    /// The RAM a page of <paramref name="pageBytes"/> takes in the cache: its log record (header included) read as
    /// whole sectors, plus one sector because the record may start anywhere within its first sector. Every page of a
    /// length gets the same size, so a buffer freed by one serves the next (see Memory/FreeBuffers).
    /// </summary>
    public static int PageBufferBytes(int pageBytes)
    {
        const int sector = (int)DirectFileDevice.Sector;
        return (pageBytes + RecordMargin + sector - 1) / sector * sector + sector;
    }

    public void Save(string logDir)
    {
        string path = Path.Combine(logDir, FileName);
        File.WriteAllText(path,
            $"page_size_bits={PageSizeBits}\nsegment_size_bits={SegmentSizeBits}\nmax_page_bytes={MaxPageBytes}\n");
        FileSync.FsyncFile(path);
    }

    public static LogLayout Load(string logDir)
    {
        string path = Path.Combine(logDir, FileName);
        if (!File.Exists(path))
            throw new Vib3Exception(SqlState.IoError, $"log layout {path} not found (store missing or not completed)");
        var kv = new Dictionary<string, int>();
        foreach (var line in File.ReadAllLines(path))
        {
            int eq = line.IndexOf('=');
            if (eq > 0 && int.TryParse(line.AsSpan(eq + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int v))
                kv[line[..eq].Trim()] = v;
        }
        if (!kv.TryGetValue("page_size_bits", out int pb) || !kv.TryGetValue("segment_size_bits", out int sb)
            || !kv.TryGetValue("max_page_bytes", out int mp) || pb is < 9 or > 30 || sb < pb || sb > 40 || mp <= 0)
            throw new Vib3Exception(SqlState.DataCorrupted, $"log layout {path} is corrupt or incomplete");
        return new LogLayout(pb, sb, mp);
    }
}
