#pragma once

// Streaming XMLTV reader: plain, gzip or xz input of any size, read in bounded memory.
// Channels and programmes are handed to sinks as soon as their closing tag is read, so a caller
// can store them without ever holding the whole guide. Every problem in the input becomes a
// diagnostic (source, line, column, reason) and the reader carries on with the good part.

#include "programme.h"

#include <core/diagnostic.h>

#include <QByteArray>
#include <QString>
#include <QTimeZone>

#include <functional>

QT_BEGIN_NAMESPACE
class QIODevice;
QT_END_NAMESPACE

namespace iptv::epg {

struct XmltvReadOptions
{
    QString sourceName;                       ///< for diagnostics; default: the file path
    QTimeZone defaultZone = QTimeZone::utc(); ///< for timestamps without an offset
    std::function<void(qint64 bytesDone, qint64 bytesTotal)> progress; ///< called at most ~100 times
    qint64 maxTextLength = 64 * 1024;         ///< longer texts are truncated with a warning
    qint64 maxElementsPerProgramme = 10000;   ///< hostile-input guard
    /// Asked after every channel and programme; returning true stops the read (with a warning).
    std::function<bool()> cancelled;
};

class XmltvReader
{
public:
    using ChannelSink = std::function<void(Channel &&)>;
    using ProgrammeSink = std::function<void(Programme &&)>;

    /// Plain, .gz or .xz (detected by content via libarchive's raw format + all filters, not by name).
    /// Returns false only when nothing could be read (missing file, not XML at all, no <tv> root);
    /// otherwise true, with every problem as a diagnostic (source, line, column, reason).
    /// A read that ended early (truncated or undecodable input, an I/O error, XML it cannot resume
    /// after) leaves a fatal diagnostic (DiagnosticList::hasFatal()): what was handed to the sinks
    /// is then only part of the input and must not replace a complete earlier read.
    static bool readFile(const QString &path, const ChannelSink &, const ProgrammeSink &, iptv::DiagnosticList *,
                         const XmltvReadOptions & = {});
    static bool readDevice(QIODevice *device, const ChannelSink &, const ProgrammeSink &, iptv::DiagnosticList *,
                           const XmltvReadOptions & = {});
    /// bytes may be gz/xz too
    static bool readBytes(const QByteArray &bytes, const ChannelSink &, const ProgrammeSink &,
                          iptv::DiagnosticList *, const XmltvReadOptions & = {});

    /// Convenience: everything into a GuideData (for small inputs and tests).
    static GuideData readAll(const QString &path, iptv::DiagnosticList *, bool *ok = nullptr,
                             const XmltvReadOptions & = {});
    static GuideData readAllBytes(const QByteArray &bytes, iptv::DiagnosticList *, bool *ok = nullptr,
                                  const XmltvReadOptions & = {});
};

} // namespace iptv::epg
