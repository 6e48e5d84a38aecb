#include "timestampsanitiser.h"

#include <QLoggingCategory>

extern "C" {
#include <libavutil/mathematics.h>
}

#include <algorithm>

Q_LOGGING_CATEGORY(lcSanitiser, "iptv.media.timestamps", QtInfoMsg)

namespace iptv::media {

namespace {
constexpr AVRational kNs{1, 1'000'000'000};
constexpr AVRational kUs{1, 1'000'000};
constexpr AVRational k90k{1, 90'000};
// Timestamps beyond ±35 years are garbage, not time: treated as missing, so that the
// arithmetic in nanoseconds can never overflow.
constexpr qint64 kSaneUs = 1LL << 50;
// A packet longer than this is no packet: its duration is replaced by the nominal one.
constexpr qint64 kLongestPacketUs = 10'000'000;

qint64 rescale(qint64 value, AVRational from, AVRational to)
{
    return av_rescale_q_rnd(value, from, to, AV_ROUND_NEAR_INF);
}
qint64 toNs(qint64 ticks, AVRational tb) { return rescale(ticks, tb, kNs); }
qint64 fromNs(qint64 ns, AVRational tb) { return rescale(ns, kNs, tb); }
} // namespace

TimestampSanitiser::TimestampSanitiser()
    : TimestampSanitiser(Options())
{
}

TimestampSanitiser::TimestampSanitiser(Options o)
    : m_opt(o)
    , m_endNs(o.startUs * 1000)
{
    m_opt.confirmFrames = std::max(1, m_opt.confirmFrames);
    m_opt.jumpThresholdUs = std::clamp<qint64>(m_opt.jumpThresholdUs, 1, 3'600'000'000LL);
    m_opt.wrapPeriod = std::clamp<qint64>(m_opt.wrapPeriod, 0, 1LL << 40);
}

void TimestampSanitiser::addStream(int index, AVRational timeBase, qint64 nominalDuration)
{
    Stream s;
    if (timeBase.num > 0 && timeBase.den > 0)
        s.timeBase = timeBase;
    else
        qCWarning(lcSanitiser) << "stream" << index << "has no valid time base; assuming 1/90000";
    s.nominal = nominalDuration > 0 && rescale(nominalDuration, s.timeBase, kUs) <= kLongestPacketUs ? nominalDuration : 0;
    m_streams[index] = s;
}

qint64 TimestampSanitiser::wrapTicks(const Stream &s, int wraps) const
{
    // Rescaled from the whole count so that a period that is no whole number of ticks
    // (2^33 / 90 ms in a 1/1000 base) does not accumulate rounding errors.
    return m_opt.wrapPeriod > 0 ? rescale(m_opt.wrapPeriod * wraps, k90k, s.timeBase) : 0;
}

qint64 TimestampSanitiser::offsetTicks(const Stream &s) const
{
    return fromNs(m_offsetNs, s.timeBase);
}

void TimestampSanitiser::place(Stream &s, qint64 dts, qint64 duration)
{
    s.started = true;
    s.lastDts = dts;
    s.lastDur = duration;
    m_endNs = std::max(m_endNs, toNs(dts + duration, s.timeBase));
}

bool TimestampSanitiser::gapSeenElsewhere(int index, qint64 deltaNs, qint64 atNs) const
{
    const qint64 toleranceNs = m_opt.jumpThresholdUs * 1000 / 4;
    const qint64 nearNs = m_opt.jumpThresholdUs * 1000 / 2;
    for (const auto &[other, o] : m_streams) {
        if (other != index && o.started && o.gapNs > 0 && qAbs(o.gapNs - deltaNs) <= toleranceNs
            && qAbs(o.gapAtNs - atNs) <= nearNs) {
            return true;
        }
    }
    return false;
}

bool TimestampSanitiser::othersAlreadyThere(int index, qint64 atNs) const
{
    // Another stream's output has reached where this packet lands: it went on through this
    // stream's hole (a source that sent no video for a while, audio on), so the hole is lost
    // input of this stream alone, not a new timeline. A real jump lands this packet away from
    // the others by the jump's size.
    const qint64 nearNs = m_opt.jumpThresholdUs * 1000 / 2;
    for (const auto &[other, o] : m_streams) {
        if (other != index && o.started && !o.lagging && qAbs(toNs(o.lastDts + o.lastDur, o.timeBase) - atNs) <= nearNs)
            return true;
    }
    return false;
}

SanitiserEvent TimestampSanitiser::fix(int index, qint64 &pts, qint64 &dts, qint64 duration)
{
    const auto found = m_streams.find(index);
    if (found == m_streams.end()) {
        qCWarning(lcSanitiser) << "packet of unregistered stream" << index << "left as it is";
        return {};
    }
    Stream &s = found->second;
    ++m_stats.packets;
    const qint64 longest = rescale(kLongestPacketUs, kUs, s.timeBase);
    const qint64 given = duration > 0 && duration <= longest ? duration : 0;
    const qint64 dur = given > 0 ? given : s.nominal > 0 ? s.nominal : s.learnt > 0 ? s.learnt : 1;
    const auto sane = [&s](qint64 value) {
        if (value == AV_NOPTS_VALUE)
            return false;
        const qint64 us = rescale(value, s.timeBase, kUs); // INT64_MIN when it overflows
        return us > -kSaneUs && us < kSaneUs;
    };
    const bool hasPts = sane(pts);
    const bool hasDts = sane(dts);

    if (!hasPts && !hasDts) {
        const qint64 at = s.started ? s.lastDts + s.lastDur : fromNs(m_endNs, s.timeBase);
        pts = dts = at;
        place(s, at, dur);
        ++m_stats.repaired;
        return {SanitiserEvent::Missing, 0};
    }

    qint64 in = hasDts ? dts : pts;
    qint64 cts = hasDts && hasPts ? pts - dts : 0;
    const qint64 period = wrapTicks(s, 1);
    if (period > 0) {
        // PTS and DTS can sit on both sides of a wrap.
        while (cts > period / 2)
            cts -= period;
        while (cts < -period / 2)
            cts += period;
    }

    SanitiserEvent event;
    const qint64 threshold = std::max<qint64>(1, rescale(m_opt.jumpThresholdUs, kUs, s.timeBase));

    if (!s.started && m_haveOffset && period > 0 && m_maxWraps > 0) {
        // A stream that starts after another one wrapped: the wrap count that lands it nearest to them.
        const qint64 end = fromNs(m_endNs, s.timeBase);
        const qint64 after = in + wrapTicks(s, m_maxWraps) + offsetTicks(s);
        const qint64 before = in + wrapTicks(s, m_maxWraps - 1) + offsetTicks(s);
        s.wraps = qAbs(after - end) <= qAbs(before - end) ? m_maxWraps : m_maxWraps - 1;
    }
    in += wrapTicks(s, s.wraps);
    if (!s.haveFirst) {
        s.haveFirst = true;
        s.firstInNs = toNs(in, s.timeBase);
    }

    if (!m_haveOffset) {
        // First packet of the input (or since discontinuity()): it continues its own stream.
        const qint64 targetNs = s.started ? toNs(s.lastDts + s.lastDur, s.timeBase) : m_endNs;
        m_offsetNs = targetNs - toNs(in, s.timeBase);
        m_haveOffset = true;
        s.seam = false;
    }

    const qint64 expected = s.lastDts + s.lastDur;
    qint64 out = in + offsetTicks(s) + s.adjust;
    bool repaired = false;

    if (s.lagging) {
        // Muxers interleave loosely: after the other streams jumped, this one may still send
        // packets of the old timeline. They keep the old offset until the new one fits better.
        const qint64 old = in + fromNs(s.lagOffsetNs, s.timeBase) + s.adjust;
        const bool oldFits = s.started && old > s.lastDts && old - expected <= threshold;
        if (oldFits && qAbs(old - expected) <= qAbs(out - expected)) {
            dts = old;
            pts = old + std::max<qint64>(0, cts);
            if (cts < 0)
                ++m_stats.repaired;
            place(s, old, dur);
            return event;
        }
        s.lagging = false;
        if (oldFits && out <= s.lastDts) {
            // Lost input rather than new timestamps, and this stream lost less of it than the
            // one that confirmed the jump: every stream takes the smaller cut (the others get a
            // short gap), so that A/V stay in sync.
            m_offsetNs += toNs(expected - out, s.timeBase);
            out = expected;
        }
    }

    if (s.started && period > 0) {
        const qint64 up = wrapTicks(s, s.wraps + 1) - wrapTicks(s, s.wraps);
        const qint64 distance = qAbs(out - expected);
        if (qAbs(out + up - expected) <= threshold && qAbs(out + up - expected) < distance) {
            ++s.wraps;
            m_maxWraps = std::max(m_maxWraps, s.wraps);
            in += up;
            out += up;
            ++m_stats.wraps;
            event = {SanitiserEvent::Wrap, rescale(up, s.timeBase, kUs)};
            qCDebug(lcSanitiser) << "stream" << index << "wrapped";
        } else if (s.wraps > 0) {
            const qint64 down = wrapTicks(s, s.wraps) - wrapTicks(s, s.wraps - 1);
            if (qAbs(out - down - expected) <= threshold && qAbs(out - down - expected) < distance) {
                // A straggler from before the wrap: unwrapped without undoing the wrap.
                in -= down;
                out -= down;
            }
        }
    }

    if (s.started) {
        const qint64 delta = out - expected;
        const qint64 deltaNs = toNs(delta, s.timeBase);
        const bool normal = out > s.lastDts && delta <= threshold;
        const qint64 toleranceNs = m_opt.jumpThresholdUs * 1000 / 4;
        bool counts = false;
        if (s.seam) {
            // The first packet of this stream from a new input, whose offset another stream set.
            // An overlap is this input's A/V skew: absorbed by this stream alone. A gap is kept,
            // so the stream stays in sync (a slate without audio leaves a hole in the audio).
            s.seam = false;
            if (out <= s.lastDts) {
                s.adjust += expected - out;
                out = expected;
                repaired = true;
            }
        } else if (normal) {
            // Back on the old timeline: whatever was pending was an outlier, if this stream saw it.
            if (m_pending.active && m_pending.streams.count(index))
                m_pending = {};
            if (deltaNs > toleranceNs) {
                s.gapNs = deltaNs;
                s.gapAtNs = toNs(expected, s.timeBase);
            }
        } else if (deltaNs > 0 && gapSeenElsewhere(index, deltaNs, toNs(expected, s.timeBase))) {
            // Another stream crossed the same hole as a gap (it was below the threshold there):
            // lost input, kept as a gap here too, or A/V would drift apart by the hole's size.
            if (m_pending.active && m_pending.streams.count(index))
                m_pending = {};
        } else if (deltaNs > 0 && othersAlreadyThere(index, toNs(out, s.timeBase))) {
            // A hole in this stream alone (the others went on through it): kept, so that the
            // streams stay in sync. Rebased, this stream would run the hole's size behind.
            if (m_pending.active && m_pending.streams.count(index))
                m_pending = {};
            ++m_stats.gaps;
            qCInfo(lcSanitiser).nospace() << "stream " << index << ": " << double(deltaNs) / 1e9
                                          << " s missing while the other streams went on, kept as a gap";
        } else if (m_pending.active && qAbs(deltaNs - m_pending.deltaNs) <= toleranceNs) {
            ++m_pending.count;
            m_pending.streams.insert(index);
            counts = true;
        } else {
            m_pending = {};
            m_pending.active = true;
            m_pending.deltaNs = deltaNs;
            m_pending.count = 1;
            m_pending.streams.insert(index);
            counts = true;
        }
        if (counts) {
            if (m_pending.count >= m_opt.confirmFrames) {
                // Rebased so that this packet lands exactly where the old timeline expected it.
                for (auto &[other, o] : m_streams) {
                    if (o.started && !m_pending.streams.count(other)) {
                        o.lagging = true;
                        o.lagOffsetNs = m_offsetNs;
                    }
                }
                m_offsetNs -= deltaNs;
                event = {delta > 0 ? SanitiserEvent::Jump : SanitiserEvent::Backwards, deltaNs / 1000};
                ++m_stats.jumps;
                qCInfo(lcSanitiser).nospace() << "stream " << index << ": input timestamps jumped by "
                                              << double(deltaNs) / 1e9 << " s, rebased";
                m_pending = {};
            }
            out = expected;
            repaired = out != in + offsetTicks(s) + s.adjust;
        } else if (normal && given <= 0 && s.nominal <= 0 && out - s.lastDts <= longest) {
            s.learnt = out - s.lastDts;
        }
    }

    dts = out;
    pts = out + std::max<qint64>(0, cts);
    if (cts < 0)
        repaired = true;
    if (repaired)
        ++m_stats.repaired;
    place(s, out, dur);
    return event;
}

void TimestampSanitiser::discontinuity()
{
    m_haveOffset = false;
    m_pending = {};
    m_maxWraps = 0;
    for (auto &[index, s] : m_streams) {
        Q_UNUSED(index)
        s.seam = s.started;
        s.wraps = 0;
        s.adjust = 0;
        s.lagging = false;
        s.gapNs = 0;
        s.haveFirst = false;
    }
}

void TimestampSanitiser::rewound()
{
    // The step: each stream's output end minus where its input starts again (as it started
    // last time: the same file); the largest, so that no stream overlaps itself.
    bool any = false;
    qint64 offsetNs = 0;
    for (const auto &[index, s] : m_streams) {
        Q_UNUSED(index)
        if (!s.started || !s.haveFirst)
            continue;
        const qint64 candidate = toNs(s.lastDts + s.lastDur, s.timeBase) - s.firstInNs;
        offsetNs = any ? std::max(offsetNs, candidate) : candidate;
        any = true;
    }
    discontinuity();
    if (!any)
        return;
    m_offsetNs = offsetNs;
    m_haveOffset = true;
    for (auto &[index, s] : m_streams) {
        Q_UNUSED(index)
        s.seam = false;
    }
}

qint64 TimestampSanitiser::outputEndUs() const
{
    return m_endNs / 1000;
}

} // namespace iptv::media
