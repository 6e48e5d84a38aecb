// Fuzzes the box side of the guide: a downloaded or stored guide file is untrusted input.
// Whatever the bytes, opening either fails cleanly or yields a guide every query can run on.

#include <epg/guide.h>
#include <epg/guidedelta.h>
#include <epg/search.h>

#include <QByteArray>

#include <cstdint>

using namespace iptv::epg;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const QByteArray bytes = QByteArray::fromRawData(reinterpret_cast<const char *>(data), qsizetype(size));
    QString error;
    const auto guide = Guide::fromBytes(bytes, &error);
    if (!guide) {
        // A delta is also untrusted: applying garbage to garbage must fail, not crash.
        GuideDelta::apply(bytes, bytes, &error);
        return 0;
    }
    const GuideInfo &info = guide->info();
    for (int c = 0; c < guide->channelCount(); ++c) {
        guide->channelRecord(c);
        guide->nowNext(c, info.validFrom + 3600);
    }
    QList<Airing> window;
    guide->window(0, guide->channelCount(), info.validFrom, info.validFrom + 6 * 3600, &window);
    for (quint32 i = 0; i < guide->airingCount() && i < 64; ++i) {
        const Airing a = guide->airing(i);
        guide->programmeRecord(a);
        guide->episode(a.programme);
    }
    for (const char *q : {"a", "news", "the n", "ει"}) {
        SearchQuery query;
        query.text = QString::fromUtf8(q);
        guide->searchIndex().search(query);
    }
    return 0;
}
