#pragma once

// The MPEG-TS output's fast channel change: the channel's latest GOP, kept so that a new viewer
// starts at a keyframe at once instead of waiting up to a GOP for the next one.
//
// Bounded: a GOP that outgrows the budget is dropped whole (a partial GOP without its keyframe
// is useless) and nothing is served until the next keyframe; memory stays within the budget.
// Not thread-safe: owned by the channel's output, like the muxer that feeds it.

#include <QByteArray>
#include <QList>

namespace iptv::media {

class KeyframeCache
{
public:
    explicit KeyframeCache(qint64 byteBudget);

    void setHeader(const QByteArray &patPmt); // PAT+PMT TS packets sent first to each new viewer
    /// Appends muxed TS bytes; `keyframe` = this chunk starts with a video keyframe (a new GOP).
    /// With `released`, the chunks it lets go are moved there instead of being freed here (the
    /// caller frees them on the thread that allocated them).
    void append(const QByteArray &ts, bool keyframe, QList<QByteArray> *released = nullptr);
    /// What a new viewer gets: header + everything since the latest keyframe (empty if none cached yet).
    QByteArray snapshot() const;
    /// The same as snapshot(), as the shared chunks (no copy): write them in order.
    QList<QByteArray> snapshotChunks() const;

    qint64 bytes() const { return m_header.size() + m_gopBytes; } ///< held now: header + GOP
    qint64 budget() const { return m_budget; }
    quint64 gopsDropped() const { return m_gopsDropped; } ///< GOPs that outgrew the budget
    quint64 gops() const { return m_gops; }               ///< keyframes seen

private:
    void drop(QList<QByteArray> *released = nullptr);

    qint64 m_budget;
    QByteArray m_header;
    QList<QByteArray> m_gop; ///< empty: nothing to serve (none yet, or dropped)
    qint64 m_gopBytes = 0;
    quint64 m_gopsDropped = 0;
    quint64 m_gops = 0;
};

} // namespace iptv::media
