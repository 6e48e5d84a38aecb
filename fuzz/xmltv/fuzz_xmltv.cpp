// Feeds arbitrary bytes (plain, gzip or xz) to the XMLTV reader. Besides not crashing, whatever it
// reads must survive the writer unchanged: read(write(read(x))) == read(x).
#include <epg/xmltvreader.h>
#include <epg/xmltvwriter.h>

#include <QByteArray>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

using namespace iptv::epg;

// The writer, given arbitrary strings (as a lineup or the database might hold), must still print a
// well-formed document that reads back as one channel and one programme.
static void writeArbitraryStrings(const uint8_t *data, size_t size)
{
    const qsizetype units = qsizetype(std::min<size_t>(size / 2, 512));
    const QString text = QString::fromUtf16(reinterpret_cast<const char16_t *>(data), units);
    GuideData g;
    Channel c;
    c.id = u"c"_qs + text.left(16);
    c.displayNames = {{text.left(8), text}};
    g.channels << c;
    Programme p;
    p.channelId = c.id;
    p.start = 1'700'000'000;
    p.titles = {{QString(), u"t"_qs + text}};
    p.credits = {{Credit::Role::Actor, u"n"_qs + text, text, true}};
    p.episodeNums = {{text, u"e"_qs + text}};
    g.programmes << p;
    iptv::DiagnosticList diagnostics(50);
    bool ok = false;
    const GuideData back = XmltvReader::readAllBytes(XmltvWriter::toBytes(g), &diagnostics, &ok);
    if (!ok || back.channels.size() != 1 || back.programmes.size() != 1 || diagnostics.errorCount() != 0) {
        std::fprintf(stderr, "writer produced an unreadable document\n%s\n", XmltvWriter::toBytes(g).constData());
        std::abort();
    }
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    writeArbitraryStrings(data, size);

    const QByteArray bytes = QByteArray::fromRawData(reinterpret_cast<const char *>(data), qsizetype(size));
    XmltvReadOptions options;
    // Small limits on some inputs so that truncation and the dropping of long text runs get exercised.
    static const qint64 textLimits[] = {4096, 64, 1000};
    options.maxTextLength = textLimits[size % 3];
    options.maxElementsPerProgramme = 500;
    iptv::DiagnosticList diagnostics(50);
    bool ok = false;
    const GuideData first = XmltvReader::readAllBytes(bytes, &diagnostics, &ok, options);
    if (!ok || (first.channels.isEmpty() && first.programmes.isEmpty()))
        return 0;

    const QByteArray written = XmltvWriter::toBytes(first);
    iptv::DiagnosticList again(50);
    const GuideData second = XmltvReader::readAllBytes(written, &again, &ok, options);
    if (!ok || second.channels != first.channels || second.programmes != first.programmes) {
        std::fprintf(stderr, "round trip mismatch (%d channels, %d programmes -> %d, %d)\n%s\n--- rewritten:\n%s\n",
                     int(first.channels.size()), int(first.programmes.size()), int(second.channels.size()),
                     int(second.programmes.size()), written.constData(), XmltvWriter::toBytes(second).constData());
        std::abort();
    }
    return 0;
}
