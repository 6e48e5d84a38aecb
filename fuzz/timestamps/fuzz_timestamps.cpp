// Fuzzes TimestampSanitiser with what corrupted inputs send: three streams in different time
// bases, timestamps that step, jump, wrap, go missing or are anything at all, and reconnects.
// Whatever comes in, the promises must hold: per stream, output DTS strictly increases and
// PTS >= DTS; the output end never goes back. A broken promise aborts (a finding).
#include <media/timestampsanitiser.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>

using iptv::media::TimestampSanitiser;

namespace {

struct Spec
{
    AVRational tb;
    qint64 dur;
};
constexpr Spec kStreams[3] = {{{1, 90000}, 3600}, {{1, 48000}, 1024}, {{1, 1000}, 0}};

[[noreturn]] void broken(const char *what, int stream, qint64 a, qint64 b)
{
    std::fprintf(stderr, "fuzz_timestamps: %s (stream %d: %lld, %lld)\n", what, stream, static_cast<long long>(a),
                 static_cast<long long>(b));
    std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    TimestampSanitiser::Options options;
    if (size > 0) {
        options.confirmFrames = 1 + data[0] % 5;
        options.jumpThresholdUs = 100'000 * (1 + data[0] / 5 % 40);
        ++data;
        --size;
    }
    TimestampSanitiser sanitiser(options);
    for (int i = 0; i < 3; ++i)
        sanitiser.addStream(i, kStreams[i].tb, kStreams[i].dur);

    qint64 clock[3] = {123456, 654321, 1000};
    std::map<int, qint64> lastDts;
    qint64 lastEnd = sanitiser.outputEndUs();
    // One packet per 9 bytes: an op byte and 8 bytes of value.
    while (size >= 9) {
        const uint8_t op = data[0];
        int64_t value;
        std::memcpy(&value, data + 1, sizeof value);
        data += 9;
        size -= 9;

        const int stream = op % 3;
        const qint64 dur = kStreams[stream].dur > 0 ? kStreams[stream].dur : 33;
        if (op & 0x08) {
            sanitiser.discontinuity();
            lastEnd = sanitiser.outputEndUs();
        }
        // Wrapping arithmetic: the input may be anything, the fuzzer itself must stay defined.
        const auto add = [](qint64 a, qint64 b) { return qint64(quint64(a) + quint64(b)); };
        switch (op >> 5) {
        case 0: case 1: case 2: case 3: clock[stream] = add(clock[stream], dur); break;              // steady
        case 4: clock[stream] = add(clock[stream], static_cast<int16_t>(value)); break;              // jitter
        case 5: clock[stream] = add(clock[stream], static_cast<int32_t>(value) * 1000LL); break;     // a jump
        case 6: clock[stream] = (1LL << 33) - static_cast<uint16_t>(value) * dur; break;             // near a wrap
        default: clock[stream] = value; break;                                                        // anything
        }
        qint64 dts = clock[stream];
        qint64 pts = add(dts, op & 0x10 ? static_cast<int8_t>(value >> 8) * dur : 0);
        if (op & 0x04)
            dts = AV_NOPTS_VALUE;
        if ((op & 0x44) == 0x44)
            pts = AV_NOPTS_VALUE;
        sanitiser.fix(stream, pts, dts, op & 0x02 ? 0 : dur);

        if (dts == AV_NOPTS_VALUE || pts == AV_NOPTS_VALUE)
            broken("a timestamp left missing", stream, pts, dts);
        if (pts < dts)
            broken("pts below dts", stream, pts, dts);
        const auto last = lastDts.find(stream);
        if (last != lastDts.end() && dts <= last->second)
            broken("dts did not increase", stream, last->second, dts);
        lastDts[stream] = dts;
        if (sanitiser.outputEndUs() < lastEnd)
            broken("the output end went back", stream, lastEnd, sanitiser.outputEndUs());
        lastEnd = sanitiser.outputEndUs();
    }
    return 0;
}
