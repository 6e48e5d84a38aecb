#pragma once

// The sequence numbers a live playlist must never go back on, kept across a server restart.
//
// Saved after each segment: {nextSequence(), lastDiscontinuitySequence()} of HlsMediaPlaylist;
// restored with HlsMediaPlaylist::restoreSequence(state.mediaSequence, state.discontinuitySequence),
// so the first segment after the restart gets the next number and an EXT-X-DISCONTINUITY.

#include <QString>

#include <optional>

namespace iptv::media {

struct SequenceState
{
    qint64 mediaSequence = 0;         ///< the media sequence number of the next segment
    qint64 discontinuitySequence = 0; ///< the discontinuity sequence number of the last segment

    /// Reads a file save() wrote. A missing file is an error too (the caller decides whether a
    /// first start is expected); a damaged one says what is wrong and where.
    static std::optional<SequenceState> load(const QString &path, QString *error);
    /// Writes the file atomically (QSaveFile): a crash leaves the old state or the new one.
    bool save(const QString &path, QString *error) const;

    bool operator==(const SequenceState &o) const
    {
        return mediaSequence == o.mediaSequence && discontinuitySequence == o.discontinuitySequence;
    }
};

} // namespace iptv::media
