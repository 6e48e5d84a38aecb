// Feeds arbitrary bytes (plain, gzip or xz) to the XMLTV reader. Besides not crashing, whatever it
// reads must survive the writer unchanged: read(write(read(x))) == read(x).
#include <epg/xmltvreader.h>
#include <epg/xmltvwriter.h>

#include <QByteArray>

#include <cstdint>
#include <cstdio>
#include <cstdlib>

using namespace iptv::epg;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const QByteArray bytes = QByteArray::fromRawData(reinterpret_cast<const char *>(data), qsizetype(size));
    XmltvReadOptions options;
    options.maxTextLength = 4096;
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
