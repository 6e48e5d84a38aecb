#pragma once

// Rewrites an input's packet timestamps onto one continuous output timeline.
//
// Live inputs jump (an encoder restarts, a camera reboots), wrap (MPEG-TS timestamps are 33 bits
// of 90 kHz: they go back to 0 every 26.5 hours), send single garbage timestamps, omit them, or
// are replaced by another input (a reconnect, a slate). Muxers and players want none of that:
// MediaMTX dies on non-monotonic DTS (#1002). The sanitiser sits between demuxer and muxer (or
// decoder) and guarantees that the output DTS of every stream strictly increases, PTS >= DTS,
// and that A/V keep their relation: all streams of an input share one offset.
//
// A jump is believed only when `confirmFrames` consecutive packets agree on it: until then the
// packets are placed right after the previous one (the last output + its duration), so one bad
// packet never moves the timeline. A wrap is recognised at once: the input is unwrapped.
// Garbage is placed like a missing timestamp: values beyond ±35 years, durations over 10 s.

#include <QtGlobal> // first: FFmpeg's C headers want UINT64_C from <cstdint> in C++

extern "C" {
#include <libavutil/avutil.h>
#include <libavutil/rational.h>
}

#include <map>
#include <set>

namespace iptv::media {

/// What fix() did to one packet beyond applying the current offset.
struct SanitiserEvent
{
    enum Kind {
        None,      ///< on the timeline (perhaps placed by extrapolation while a jump is unconfirmed)
        Jump,      ///< a forward jump was confirmed with this packet: the offset changed
        Wrap,      ///< the stream's input wrapped (33 bits of 90 kHz) with this packet
        Backwards, ///< a backwards jump was confirmed with this packet: the offset changed
        Missing    ///< the packet had neither PTS nor DTS: placed after the previous one
    } kind = None;
    qint64 inputDelta = 0; ///< microseconds: the jump's size (input minus expected), or the wrap period
};

/// Per input: one output timeline for all of its streams.
class TimestampSanitiser
{
public:
    struct Options
    {
        qint64 jumpThresholdUs = 2'000'000; ///< forward gaps above this are jumps (backwards always is)
        int confirmFrames = 3;              ///< consecutive packets agreeing before a jump is believed
        qint64 wrapPeriod = (1LL << 33);    ///< in 90 kHz units (rescaled per stream); 0 = never wraps
        qint64 startUs = 0;                 ///< where the output timeline starts
    };

    TimestampSanitiser(); // the default Options (a default argument `= {}` does not compile here)
    explicit TimestampSanitiser(Options o);

    /// Registers a stream: its time base and nominal frame/packet duration in that base (may be 0: learnt).
    void addStream(int index, AVRational timeBase, qint64 nominalDuration);
    /// Rewrites pts/dts (in the stream's time base, AV_NOPTS_VALUE allowed) onto the continuous output timeline.
    /// Output dts strictly increases per stream; pts >= dts; one offset shared by all streams of the input so A/V stay in sync.
    /// `duration` (stream time base) may be 0: the nominal or learnt duration is used.
    SanitiserEvent fix(int index, qint64 &pts, qint64 &dts, qint64 duration);
    /// The input was reopened (reconnect) or replaced by a slate: the next packets continue the output timeline right after the last output of each stream (no gap, no overlap), whatever their input timestamps.
    void discontinuity();
    /// The same input started again from its beginning (a looping file rewound): its streams keep
    /// their relation, so all of them move on by one shared step, the smallest that lands every
    /// stream at or after its last output (the longest stream continues exactly, the others
    /// with a gap of the difference). discontinuity() would close each stream's gap on its own,
    /// and A/V drift apart by the difference every loop. Before any packet: as discontinuity().
    void rewound();
    /// Output position (microseconds) of the latest packet of any stream: the end (dts +
    /// duration) of the stream that reaches furthest; used to place a slate. startUs before any packet.
    qint64 outputEndUs() const;

    struct Stats
    {
        quint64 packets = 0;  ///< packets seen by fix()
        quint64 repaired = 0; ///< packets whose timestamps differ from input + offset
        quint64 jumps = 0;    ///< confirmed jumps, forward and backwards
        quint64 wraps = 0;    ///< wraps of any stream
        quint64 gaps = 0;     ///< forward gaps above the threshold in one stream kept as gaps (the others went on)
    };
    Stats stats() const { return m_stats; }

private:
    struct Stream
    {
        AVRational timeBase{1, 90000};
        qint64 nominal = 0;  ///< given at addStream, 0 when unknown
        qint64 learnt = 0;   ///< last positive DTS step seen, when no nominal duration
        bool started = false;
        bool seam = false;   ///< first packet since discontinuity(): absorbs this stream's A/V skew
        qint64 lastDts = 0;  ///< output, stream time base
        qint64 lastDur = 0;
        int wraps = 0;       ///< input wraps so far (since the last discontinuity)
        qint64 adjust = 0;   ///< ticks added at a seam for this stream only (0 normally)
        bool lagging = false;  ///< a jump was confirmed without this stream: it may still send the old timeline
        qint64 lagOffsetNs = 0; ///< the offset before that jump
        qint64 gapNs = 0;       ///< the last forward gap taken as lost input (not a jump)
        qint64 gapAtNs = 0;     ///< where it began on the output timeline
        bool haveFirst = false; ///< firstInNs is known
        qint64 firstInNs = 0;   ///< the first input timestamp (unwrapped) since the last discontinuity or rewind
    };
    struct PendingJump
    {
        bool active = false;
        qint64 deltaNs = 0;
        int count = 0;             ///< consecutive packets agreeing on deltaNs
        std::set<int> streams;     ///< the streams among them
    };

    qint64 wrapTicks(const Stream &s, int wraps) const;
    qint64 offsetTicks(const Stream &s) const;
    void place(Stream &s, qint64 dts, qint64 duration);
    bool gapSeenElsewhere(int index, qint64 deltaNs, qint64 atNs) const;
    bool othersAlreadyThere(int index, qint64 atNs) const;

    Options m_opt;
    std::map<int, Stream> m_streams;
    bool m_haveOffset = false;
    qint64 m_offsetNs = 0;  ///< output = input + offset, shared by all streams
    qint64 m_endNs = 0;     ///< outputEndUs() in nanoseconds
    int m_maxWraps = 0;
    PendingJump m_pending;
    Stats m_stats;
};

} // namespace iptv::media
