// Fuzzes the guide body parser behind the integrity checks. A real attacker cannot get a body
// past the header CRC and the zstd checksum by chance, and neither can a fuzzer: this target
// wraps its input as a well-formed file (counts from the first 16 bytes, the rest as the body)
// so the section tables, records and the search index builder meet hostile data.

#include <epg/guide.h>
#include <epg/guideformat_p.h>
#include <epg/search.h>

#include <QByteArray>

#include <cstdint>
#include <cstring>

using namespace iptv::epg;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 16)
        return 0;
    format::Header h;
    h.channelCount = format::getRaw<quint32>(reinterpret_cast<const char *>(data)) % 4096;
    h.airingCount = format::getRaw<quint32>(reinterpret_cast<const char *>(data) + 4) % 65536;
    h.programmeCount = format::getRaw<quint32>(reinterpret_cast<const char *>(data) + 8) % 65536;
    h.stringCount = format::getRaw<quint32>(reinterpret_cast<const char *>(data) + 12) % 65536;
    h.validFrom = 1767225600;
    h.validUntil = h.validFrom + 14 * 86400;
    const QByteArray body(reinterpret_cast<const char *>(data) + 16, qsizetype(size - 16));
    h.bodySize = quint64(body.size());
    const QByteArray hash = format::bodyHash(body);
    std::memcpy(h.bodyHash, hash.constData(), 32);
    QString reason;
    const QByteArray stored = format::compressBody(body, 1, 1, &reason);
    h.storedSize = quint64(stored.size());
    const auto guide = Guide::fromBytes(format::encodeHeader(h) + stored, &reason);
    if (!guide)
        return 0;
    for (int c = 0; c < guide->channelCount(); ++c) {
        guide->channelRecord(c);
        guide->nowNext(c, h.validFrom + 3600);
    }
    QList<Airing> window;
    guide->window(0, guide->channelCount(), h.validFrom, h.validFrom + 86400, &window);
    for (quint32 p = 0; p < guide->programmeCount() && p < 256; ++p) {
        guide->title(p);
        guide->episode(p);
    }
    for (quint32 i = 0; i < guide->airingCount() && i < 256; ++i)
        guide->programmeRecord(guide->airing(i));
    for (const char *q : {"a", "news", "the n"}) {
        SearchQuery query;
        query.text = QString::fromUtf8(q);
        query.category = QStringLiteral("x");
        guide->searchIndex().search(query);
        query.category.clear();
        guide->searchIndex().search(query);
    }
    return 0;
}
