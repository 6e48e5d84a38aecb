#pragma once

// How large a guide may say it is before anything is allocated for it. A guide file and a delta
// come from the network: their header's sizes are untrusted until the body decompresses to
// exactly them and its checksum matches, and a tiny zstd frame can claim gigabytes.

#include <QtGlobal>

namespace iptv::epg {

struct GuideLimits
{
    /// The decompressed body: 256 MiB, seven times the 35 MiB of 1,000 channels over 14 days
    /// (docs/BENCHMARKS.md), far below what would get a box killed for its memory.
    quint64 maxBodyBytes = quint64(256) << 20;
    /// The stored (compressed) body, and so the largest guide file or delta downloaded: 64 MiB,
    /// twelve times the 5 MB file of 1,000 channels over 14 days.
    quint64 maxFileBytes = quint64(64) << 20;
};

} // namespace iptv::epg
