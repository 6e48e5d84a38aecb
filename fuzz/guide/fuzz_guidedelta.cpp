// Fuzzes applying a guide delta to a valid base: what a box or diver does with every delta it
// downloads. fuzz_guide applies its input as a delta only to a base that failed to open, so the
// apply path past the base's checks was never reached. Here the base is a real guide (made once,
// in process) and the input is the delta's new header and zstd frame: the target puts the delta's
// magic and the base's hash before them and seals the header with a valid CRC (unless the input
// asks not to), so the fuzzer reaches the size limits, the frame checks, the patch-from
// decompression and the opening of what it produced.
//
// IPTV_FUZZ_WRITE_SEED=<file> writes a real delta's input form (header and frame) there; the
// seed corpus (corpus-delta/) is made with it by make-corpus.sh.

#include <epg/guide.h>
#include <epg/guidedelta.h>
#include <epg/guideformat_p.h>
#include <epg/guidewriter.h>

#include <QByteArray>
#include <QFile>

#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>

using namespace iptv::epg;

namespace {

constexpr qint64 kDay0 = 1767225600; // 2026-01-01T00:00:00Z
constexpr qsizetype kPrefix = 8 + 32; // magic, base body hash

QByteArray compileGuide(int programmes)
{
    GuideData data;
    for (const char *id : {"one.test", "two.test"}) {
        Channel c;
        c.id = QString::fromLatin1(id);
        c.displayNames = {{{}, c.id}};
        data.channels.append(c);
    }
    for (int i = 0; i < programmes; ++i) {
        Programme p;
        p.channelId = data.channels.at(i % 2).id;
        p.start = kDay0 + (i / 2) * 1800;
        p.stop = p.start + 1800;
        p.titles = {{{}, QStringLiteral("Programme %1").arg(i % 7)}};
        p.descs = {{{}, QStringLiteral("Episode %1 of a series that goes on.").arg(i)}};
        data.programmes.append(p);
    }
    GuideCompileOptions options;
    options.createdAt = kDay0;
    options.compressionLevel = 3;
    GuideBuilder builder(options);
    builder.addGuide(data);
    return builder.finish(nullptr);
}

struct Fixture
{
    QByteArray base = compileGuide(40);
    QByteArray delta = GuideDelta::make(base, compileGuide(44));
};

const Fixture &fixture()
{
    static const Fixture f = [] {
        Fixture made;
        if (const char *seed = std::getenv("IPTV_FUZZ_WRITE_SEED")) {
            QFile out(QString::fromLocal8Bit(seed));
            if (out.open(QIODevice::WriteOnly))
                out.write(made.delta.mid(kPrefix));
        }
        return made;
    }();
    return f;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const Fixture &f = fixture();
    if (f.delta.isEmpty())
        std::abort(); // the fixture itself must make a delta
    QByteArray input(reinterpret_cast<const char *>(data), qsizetype(size));
    // The header's CRC is sealed over what the input says, so the fields behind it are reached,
    // unless byte 120 (padding, zero in every real header) is set: then the CRC is left as given.
    constexpr qsizetype kCrcAt = 124, kUnsealedFlagAt = 120;
    if (input.size() >= qsizetype(format::kHeaderSize) && input.at(kUnsealedFlagAt) == 0) {
        const quint32 crc = quint32(crc32(0, reinterpret_cast<const Bytef *>(input.constData()), kCrcAt));
        const quint32 le = qToLittleEndian(crc);
        std::memcpy(input.data() + kCrcAt, &le, sizeof le);
    }
    const QByteArray delta = f.delta.left(kPrefix) + input;
    QString error;
    const QByteArray rebuilt = GuideDelta::apply(f.base, delta, &error);
    if (rebuilt.isEmpty())
        return 0;
    // Whatever applied must open like a downloaded guide (or fail cleanly), and be usable.
    const auto guide = Guide::fromBytes(rebuilt, &error);
    if (!guide)
        return 0;
    for (int c = 0; c < guide->channelCount(); ++c)
        guide->nowNext(c, guide->info().validFrom + 3600);
    return 0;
}
