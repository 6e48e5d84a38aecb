// Fuzzes the M3U lineup reader and, with what it reads, the channel mapper: any bytes must give
// a lineup and diagnostics without crashing, hanging or reading out of bounds.
#include <epg/channelmapper.h>
#include <epg/m3ureader.h>

#include <cstddef>
#include <cstdint>

using namespace Qt::StringLiterals;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const QByteArray bytes = QByteArray::fromRawData(reinterpret_cast<const char *>(data), qsizetype(size));
    iptv::DiagnosticList diagnostics(100);
    const iptv::epg::Lineup lineup = iptv::epg::M3uReader::parse(bytes, u"fuzz"_s, &diagnostics);
    for (const iptv::Diagnostic &d : diagnostics.items())
        (void)d.toString();

    // A guide made from every other entry, so the mapper sees hits by id, by name and misses.
    QList<iptv::epg::Channel> guide;
    for (qsizetype i = 0; i < lineup.entries.size(); i += 2) {
        iptv::epg::Channel c;
        c.id = lineup.entries[i].tvgId.isEmpty() ? lineup.entries[i].name : lineup.entries[i].tvgId;
        c.displayNames.append({QString(), lineup.entries[i].tvgName});
        c.displayNames.append({QString(), lineup.entries[i].name});
        guide.append(c);
    }
    const iptv::epg::ChannelMapping mapping = iptv::epg::ChannelMapper::map(lineup, guide);
    (void)mapping.report();
    return 0;
}
