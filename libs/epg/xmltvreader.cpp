#include "xmltvreader.h"

#include "xmltvtime.h"

#include <QBuffer>
#include <QFile>
#include <QLoggingCategory>
#include <QSet>
#include <QXmlStreamReader>

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <array>
#include <cstring>

namespace iptv::epg {

Q_LOGGING_CATEGORY(lcXmltvReader, "iptv.epg.xmltv", QtInfoMsg)

namespace {

// Decompressed bytes handed to the XML parser at a time. The parser drops what it has consumed,
// so memory stays at a few chunks whatever the input size.
constexpr qint64 s_chunkSize = 256 * 1024;
// Compressed bytes libarchive asks for per read callback.
constexpr qint64 s_deviceReadSize = 64 * 1024;
// Nesting below a <tv> child that is still plausible; deeper is hostile and treated as an error.
constexpr int s_maxDepth = 64;
// Encoding problems reported one by one before only a total is given.
constexpr int s_detailedEncodingDiagnostics = 20;
// Unknown progress total: report every this many bytes.
constexpr qint64 s_progressStepUnknownTotal = 16 * 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Bytes: any compression libarchive knows, detected by content, read through a QIODevice.

class ArchiveSource
{
public:
    ArchiveSource(QIODevice *device, const std::function<void(qint64, qint64)> &progress)
        : m_device(device), m_progress(progress)
    {
        m_total = device->isSequential() ? -1 : device->size() - device->pos();
        m_buffer.resize(s_deviceReadSize);
    }
    ~ArchiveSource()
    {
        if (m_archive)
            archive_read_free(m_archive);
    }
    ArchiveSource(const ArchiveSource &) = delete;
    ArchiveSource &operator=(const ArchiveSource &) = delete;

    bool open()
    {
        m_archive = archive_read_new();
        archive_read_support_filter_all(m_archive);
        archive_read_support_format_raw(m_archive);
        if (archive_read_open(m_archive, this, nullptr, &ArchiveSource::readCallback, nullptr) != ARCHIVE_OK) {
            m_error = m_consumed == 0 && !m_deviceError ? QStringLiteral("empty input") : archiveError();
            return false;
        }
        archive_entry *entry = nullptr;
        const int r = archive_read_next_header(m_archive, &entry);
        if (r == ARCHIVE_EOF) {
            m_error = QStringLiteral("empty input");
            return false;
        }
        if (r < ARCHIVE_WARN) {
            m_error = archiveError();
            return false;
        }
        return true;
    }

    /// > 0: bytes read; 0: end of data; -1: error (errorString()), everything before it was delivered.
    qint64 read(char *data, qint64 max)
    {
        if (m_failed)
            return -1;
        const la_ssize_t n = archive_read_data(m_archive, data, size_t(max));
        if (n < 0) {
            m_failed = true;
            m_error = archiveError();
            return -1;
        }
        return n;
    }

    QString errorString() const { return m_error; }

    /// "gzip", "xz", ... or "none" for plain input.
    QString compression() const
    {
        if (!m_archive || archive_filter_count(m_archive) < 2)
            return QStringLiteral("none");
        return QString::fromLatin1(archive_filter_name(m_archive, 0));
    }

    void finishProgress()
    {
        // The parser stops at </tv> and may leave a last block unread: done is done.
        if (m_progress)
            m_progress(m_total < 0 ? m_consumed : m_total, m_total < 0 ? m_consumed : m_total);
    }

private:
    QString archiveError() const
    {
        if (m_deviceError)
            return m_error;
        const char *s = archive_error_string(m_archive);
        return s ? QString::fromLocal8Bit(s) : QStringLiteral("unknown decompression error");
    }

    static la_ssize_t readCallback(archive *a, void *client, const void **buffer)
    {
        auto *self = static_cast<ArchiveSource *>(client);
        qint64 n = self->m_device->read(self->m_buffer.data(), self->m_buffer.size());
        // A socket or pipe may have nothing buffered yet without being at its end.
        // waitForReadyRead() returns false once the writer has closed its end.
        while (n == 0 && self->m_device->isSequential() && self->m_device->waitForReadyRead(30000)) {
            n = self->m_device->read(self->m_buffer.data(), self->m_buffer.size());
        }
        if (n < 0) {
            self->m_deviceError = true;
            self->m_error = u"read error: " + self->m_device->errorString();
            archive_set_error(a, EIO, "%s", qPrintable(self->m_error));
            return -1;
        }
        *buffer = self->m_buffer.constData();
        self->m_consumed += n;
        self->reportProgress();
        return la_ssize_t(n);
    }

    void reportProgress()
    {
        if (!m_progress)
            return;
        if (m_total > 0) {
            const int percent = int(std::min<qint64>(100, m_consumed * 100 / m_total));
            if (percent > m_lastPercent) {
                m_lastPercent = percent;
                m_progress(m_consumed, m_total);
            }
        } else if (m_consumed - m_lastReported >= s_progressStepUnknownTotal) {
            m_lastReported = m_consumed;
            m_progress(m_consumed, -1);
        }
    }

    QIODevice *m_device;
    const std::function<void(qint64, qint64)> &m_progress;
    archive *m_archive = nullptr;
    QByteArray m_buffer;
    qint64 m_total = -1;
    qint64 m_consumed = 0;
    qint64 m_lastReported = 0;
    int m_lastPercent = -1;
    bool m_failed = false;
    bool m_deviceError = false;
    QString m_error;
};

// ---------------------------------------------------------------------------------------------
// Encoding hygiene before the XML parser sees the bytes. QXmlStreamReader stops dead at the first
// invalid UTF-8 sequence or control character (and throws away the rest of the chunk it was
// decoding), which would lose a whole guide to one bad byte from a grabber. We replace them and
// say where.

// Bytes the sanitizer passes through without a second look: printable ASCII except the four
// it tracks ('&' for bare ampersands, '<', '>' and ']' for markup and CDATA sections), tab, CR
// and LF; in single-byte encodings also everything from 0x80 up.
constexpr std::array<bool, 256> plainBytes(bool highBytesArePlain)
{
    std::array<bool, 256> t{};
    for (int c = 0; c < 256; ++c) {
        t[c] = (c >= 0x20 && c < 0x80 && c != '&' && c != '<' && c != '>' && c != ']') || c == '\t' || c == '\n' || c == '\r'
            || (highBytesArePlain && c >= 0x80);
    }
    return t;
}
constexpr std::array<bool, 256> s_plainUtf8 = plainBytes(false);
constexpr std::array<bool, 256> s_plainSingleByte = plainBytes(true);

class ByteSanitizer
{
public:
    enum class Mode { Undecided, Utf8, SingleByte, Passthrough };

    ByteSanitizer(iptv::DiagnosticList *diagnostics, const QString &source, qint64 maxTextLength)
        : m_diagnostics(diagnostics), m_source(source), m_maxRun(4 * std::max<qint64>(0, maxTextLength) + 4096)
    {
    }

    /// The encoding the document declares (for restarting the parser mid-document).
    QByteArray encoding() const { return m_encoding; }
    bool isAsciiCompatible() const { return m_mode == Mode::Utf8 || m_mode == Mode::SingleByte; }

    /// Returns the repaired bytes. A few bytes at the end that cannot be judged yet (a multi-byte
    /// character or an entity reference cut by the chunk boundary) are held back for the next call.
    QByteArray process(const char *data, qint64 size, bool final = false)
    {
        if (m_mode == Mode::Undecided && size > 0)
            decide(data, size);
        if (m_mode == Mode::Passthrough)
            return QByteArray(data, size);

        QByteArray joined;
        if (!m_pending.isEmpty()) {
            joined = m_pending;
            joined.append(data, size);
            data = joined.constData();
            size = joined.size();
            m_pending.clear();
        }
        m_chunkData = data;
        QByteArray out;
        out.reserve(size + 64);
        const auto *bytes = reinterpret_cast<const uchar *>(data);
        qint64 i = 0;
        qint64 copiedUpTo = 0;
        qint64 end = size;
        auto replace = [&](const char *with, qint64 skip, const QString &what) {
            out.append(data + copiedUpTo, i - copiedUpTo);
            out.append(with);
            noteProblem(m_offset + i, what);
            i += skip;
            copiedUpTo = i;
        };
        const bool *plain = m_mode == Mode::SingleByte ? s_plainSingleByte.data() : s_plainUtf8.data();
        while (i < size) {
            const bool inText = !m_inTag && !m_inCdata;
            // Most bytes need no look: skip them with one table lookup each (in text, only up to
            // the run limit, so that the check below sees a long run before it is passed on).
            const qint64 stop = inText ? std::clamp<qint64>(m_runStart + m_maxRun + 1 - m_offset, i + 1, size) : size;
            while (i < stop && plain[bytes[i]])
                ++i;
            if (inText && m_offset + i - m_runStart > m_maxRun) {
                // Text far longer than any text that is kept: QXmlStreamReader would hold all of
                // it (as UTF-16) before handing it over, so a hostile file could exhaust memory.
                // Drop the excess up to the next markup; i is on a character boundary here.
                if (!m_runWarned) {
                    m_runWarned = true;
                    noteProblem(m_offset + i, u"text longer than " + QString::number(m_maxRun)
                                                  + u" bytes; the rest of it is dropped");
                }
                out.append(data + copiedUpTo, i - copiedUpTo);
                const void *lt = std::memchr(data + i, '<', size_t(size - i));
                i = lt ? static_cast<const char *>(lt) - data : size;
                copiedUpTo = i;
            }
            if (i >= size)
                break;
            const uchar c = bytes[i];
            if (c >= 0x20 && c < 0x80) {
                if (c == '&' && !m_inCdata) {
                    const qint64 r = referenceLength(data + i, size - i);
                    if (r > 0) {
                        i += r;
                    } else if (r == 0 && !final) {
                        end = i;
                        break;
                    } else {
                        // "Tom & Jerry", "?a=1&b=2": the commonest grabber mistake; escaping it
                        // keeps the programme instead of losing it to a parse error.
                        replace("&amp;", 1, QStringLiteral("bare '&' escaped as &amp;"));
                    }
                    continue;
                }
                if ((c == '<' && !m_inCdata) || (c == ']' && m_inCdata)) {
                    // Inside CDATA an '&' is just text: track where such sections start and end.
                    const QByteArrayView marker = c == '<' ? QByteArrayView("<![CDATA[") : QByteArrayView("]]>");
                    const qint64 avail = std::min<qint64>(marker.size(), size - i);
                    if (std::memcmp(data + i, marker.data(), size_t(avail)) == 0) {
                        if (avail < marker.size() && !final) {
                            end = i;
                            break;
                        }
                        if (avail == marker.size()) {
                            m_inCdata = !m_inCdata;
                            i += marker.size();
                            if (!m_inCdata)
                                startTextRun(i);
                            continue;
                        }
                    }
                }
                if (c == '<' && !m_inCdata) {
                    m_inTag = true;
                } else if (c == '>' && !m_inCdata) {
                    m_inTag = false;
                    startTextRun(i + 1);
                }
                ++i;
                continue;
            }
            if (c == '\n' || c == '\r' || c == '\t') {
                ++i;
                continue;
            }
            if (c < 0x20) {
                replace(" ", 1, u"control character 0x" + QString::number(c, 16).rightJustified(2, u'0')
                                    + u" replaced by a space");
                continue;
            }
            if (m_mode == Mode::SingleByte) {
                ++i;
                continue;
            }
            const qint64 len = utf8SequenceLength(data + i, size - i);
            if (len > 0) {
                i += len;
                continue;
            }
            if (len == 0 && !final) { // cut off by the end of the chunk: finish it with the next one
                end = i;
                break;
            }
            replace("\xEF\xBF\xBD", len == 0 ? size - i : -len,
                    QStringLiteral("invalid UTF-8 byte sequence replaced by U+FFFD"));
        }
        if (end < size)
            m_pending = QByteArray(data + end, size - end);
        out.append(data + copiedUpTo, end - copiedUpTo);
        countLinesTo(m_offset + end);
        m_offset += end;
        m_chunkData = nullptr;
        return out;
    }

    /// At the end of input: whatever was held back is judged as it is.
    QByteArray flush()
    {
        QByteArray out;
        if (!m_pending.isEmpty()) {
            const QByteArray rest = m_pending;
            m_pending.clear();
            out = process(rest.constData(), rest.size(), true);
        }
        if (m_problems > s_detailedEncodingDiagnostics) {
            m_diagnostics->warning(m_source, 0, 0,
                                   QString::number(m_problems) + u" invalid bytes, control characters or bare "
                                       u"ampersands repaired in total");
        }
        return out;
    }

private:
    void startTextRun(qint64 chunkIndex)
    {
        m_runStart = m_offset + chunkIndex;
        m_runWarned = false;
    }

    void decide(const char *data, qint64 size)
    {
        const QByteArrayView head(data, std::min<qint64>(size, 1024));
        if (head.startsWith("\xEF\xBB\xBF")) {
            m_mode = Mode::Utf8;
            m_encoding = "UTF-8";
            return;
        }
        if (head.startsWith("\xFE\xFF") || head.startsWith("\xFF\xFE") || head.startsWith(QByteArrayView("\0<", 2))
            || head.startsWith(QByteArrayView("<\0", 2))) {
            m_mode = Mode::Passthrough; // UTF-16/32: QXmlStreamReader decodes and checks it itself
            return;
        }
        m_mode = Mode::Utf8;
        m_encoding = "UTF-8";
        if (!head.startsWith("<?xml"))
            return;
        const qsizetype end = head.indexOf("?>");
        const QByteArrayView decl = head.first(end < 0 ? head.size() : end);
        const qsizetype at = decl.indexOf("encoding");
        if (at < 0)
            return;
        qsizetype q = at + 8;
        while (q < decl.size() && (decl[q] == ' ' || decl[q] == '=' || decl[q] == '\t'))
            ++q;
        if (q >= decl.size() || (decl[q] != '"' && decl[q] != '\''))
            return;
        const char quote = decl[q];
        const qsizetype close = decl.indexOf(quote, q + 1);
        if (close < 0)
            return;
        const QByteArray name = decl.sliced(q + 1, close - q - 1).toByteArray().trimmed();
        const QByteArray lower = name.toLower();
        if (lower == "utf-8" || lower == "utf8" || lower.isEmpty())
            return;
        if (lower.startsWith("utf-16") || lower.startsWith("utf-32") || lower.startsWith("ucs")) {
            m_mode = Mode::Passthrough;
            return;
        }
        // Latin-1, windows-125x, ISO-8859-x and the East Asian multi-byte sets: bytes below 0x20
        // are never part of a character there, and QXmlStreamReader decodes the rest.
        m_mode = Mode::SingleByte;
        m_encoding = name;
    }

    /// > 0: a valid sequence of that length; 0: valid so far but cut off by the end;
    /// < 0: invalid, and minus the length of its longest valid-looking prefix (the bytes one U+FFFD replaces).
    static qint64 utf8SequenceLength(const char *p, qint64 available)
    {
        const auto *s = reinterpret_cast<const uchar *>(p);
        const uchar c = s[0];
        int len = 0;
        uchar lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            if (c == 0xE0)
                lo = 0xA0;
            else if (c == 0xED)
                hi = 0x9F; // no UTF-16 surrogates
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            if (c == 0xF0)
                lo = 0x90;
            else if (c == 0xF4)
                hi = 0x8F;
        } else {
            return -1;
        }
        for (int k = 1; k < len; ++k) {
            if (k >= available)
                return 0;
            const uchar b = s[k];
            if (k == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF))
                return -k;
        }
        // U+FFFE and U+FFFF are not XML characters.
        if (len == 3 && c == 0xEF && s[1] == 0xBF && (s[2] == 0xBE || s[2] == 0xBF))
            return -1;
        return len;
    }

    /// p[0] is '&'. > 0: length of a well-formed reference ("&amp;", "&#233;", "&#xE9;");
    /// 0: cannot tell before the data ends; -1: not a reference.
    static qint64 referenceLength(const char *p, qint64 available)
    {
        constexpr qint64 maxLength = 40;
        auto isNameStart = [](uchar ch) {
            return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' || ch == ':' || ch >= 0x80;
        };
        auto isDigit = [](uchar ch) { return ch >= '0' && ch <= '9'; };
        auto isHex = [&](uchar ch) { return isDigit(ch) || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F'); };
        const auto *s = reinterpret_cast<const uchar *>(p);
        if (available < 2)
            return 0;
        qint64 k = 1;
        if (s[1] == '#') {
            k = 2;
            bool hex = false;
            if (k < available && s[k] == 'x') {
                hex = true;
                ++k;
            }
            const qint64 firstDigit = k;
            for (; k < available && k < maxLength; ++k) {
                if (s[k] == ';')
                    return k > firstDigit ? k + 1 : -1;
                if (!(hex ? isHex(s[k]) : isDigit(s[k])))
                    return -1;
            }
            return k >= maxLength ? -1 : 0;
        }
        if (!isNameStart(s[1]))
            return -1;
        for (k = 2; k < available && k < maxLength; ++k) {
            const uchar ch = s[k];
            if (ch == ';')
                return k + 1;
            if (!isNameStart(ch) && !isDigit(ch) && ch != '.' && ch != '-')
                return -1;
        }
        return k >= maxLength ? -1 : 0;
    }

    void noteProblem(qint64 offset, const QString &what)
    {
        ++m_problems;
        if (m_problems > s_detailedEncodingDiagnostics)
            return;
        // Line numbers are counted lazily, only up to where a problem is.
        if (offset > m_counted)
            countLinesTo(offset);
        m_diagnostics->warning(m_source, m_line, offset - m_lineStart + 1, what);
    }

    void countLinesTo(qint64 absolute)
    {
        // Only called while process() works on a chunk: m_chunkData points at it.
        const char *base = m_chunkData;
        qint64 from = m_counted - m_offset;
        const qint64 to = absolute - m_offset;
        while (from < to) {
            const void *nl = std::memchr(base + from, '\n', size_t(to - from));
            if (!nl)
                break;
            from = static_cast<const char *>(nl) - base + 1;
            ++m_line;
            m_lineStart = m_offset + from;
        }
        m_counted = std::max(m_counted, absolute);
    }

private:
    iptv::DiagnosticList *m_diagnostics;
    QString m_source;
    Mode m_mode = Mode::Undecided;
    QByteArray m_encoding = "UTF-8";
    QByteArray m_pending; // held back for the next chunk
    bool m_inCdata = false;
    bool m_inTag = false;     // between '<' and '>'
    qint64 m_maxRun;          // longest text run passed on
    qint64 m_runStart = 0;    // absolute offset where the current text run began
    bool m_runWarned = false;
    qint64 m_offset = 0;  // absolute input offset of the current chunk
    qint64 m_counted = 0; // lines are counted up to here
    qint64 m_line = 1;
    qint64 m_lineStart = 0;
    qint64 m_problems = 0;
    const char *m_chunkData = nullptr;
};

// ---------------------------------------------------------------------------------------------

bool isYes(QStringView v)
{
    return v.compare(u"yes", Qt::CaseInsensitive) == 0;
}

bool isNo(QStringView v)
{
    return v.compare(u"no", Qt::CaseInsensitive) == 0;
}

int toInt(QStringView v)
{
    bool ok = false;
    const int n = v.trimmed().toInt(&ok);
    return ok && n > 0 ? n : 0;
}

// Entities the XMLTV DTD does not declare but HTML-minded grabbers still write; an external DTD
// makes QXmlStreamReader hand them over unresolved.
QString htmlEntity(QStringView name)
{
    static const struct
    {
        const char16_t *name;
        char16_t ch;
    } table[] = {
        {u"nbsp", 0x00A0},  {u"copy", 0x00A9},   {u"reg", 0x00AE},    {u"trade", 0x2122}, {u"hellip", 0x2026},
        {u"mdash", 0x2014}, {u"ndash", 0x2013},  {u"lsquo", 0x2018},  {u"rsquo", 0x2019}, {u"ldquo", 0x201C},
        {u"rdquo", 0x201D}, {u"eacute", 0x00E9}, {u"egrave", 0x00E8}, {u"aacute", 0x00E1}, {u"euro", 0x20AC},
        {u"pound", 0x00A3}, {u"deg", 0x00B0},    {u"frac12", 0x00BD}, {u"uuml", 0x00FC}, {u"ouml", 0x00F6},
        {u"auml", 0x00E4},  {u"szlig", 0x00DF},  {u"ccedil", 0x00E7},
    };
    for (const auto &e : table) {
        if (name == QStringView(e.name))
            return QString(QChar(e.ch));
    }
    return u'&' + name.toString() + u';';
}

class Parser
{
public:
    Parser(QIODevice *device, const XmltvReader::ChannelSink &channelSink,
           const XmltvReader::ProgrammeSink &programmeSink, iptv::DiagnosticList *diagnostics,
           const XmltvReadOptions &options, const QString &source, GuideData *header)
        : m_source(device, options.progress),
          m_sanitizer(diagnostics, source, options.maxTextLength),
          m_channelSink(channelSink),
          m_programmeSink(programmeSink),
          m_diag(diagnostics),
          m_options(options),
          m_name(source),
          m_header(header)
    {
        m_chunk.resize(s_chunkSize);
        m_xml.setNamespaceProcessing(false);
    }

    bool run();

private:
    // ---- input ----
    bool pullChunk(QByteArray *out);
    bool feed();
    void appendToWindow(const QByteArray &bytes);
    QXmlStreamReader::TokenType next();
    bool resync(qint64 line, qint64 column);
    qint64 line() const { return m_readerStartLine + m_xml.lineNumber() - 1; }
    /// 1-based, in characters: QXmlStreamReader's count of characters consumed on the line, which at
    /// an error includes the offending one. A restarted parser's first line is shifted by where it
    /// started and by the synthetic prefix it was given.
    qint64 column() const
    {
        if (m_xml.lineNumber() == 1)
            return std::max<qint64>(1, m_xml.columnNumber() - m_prefixLength + m_readerStartColumn - 1);
        return std::max<qint64>(1, m_xml.columnNumber());
    }
    void warn(qint64 ln, const QString &m) { m_diag->warning(m_name, ln, 0, m); }
    void error(qint64 ln, const QString &m) { m_diag->error(m_name, ln, 0, m); }

    // ---- elements ----
    bool skipElement();
    /// Reads to the end of the current element, calling onDirectText(token type) for its own
    /// text and entity references (not its children's); false on a broken or too deep document.
    template<typename F>
    bool walkToEnd(F &&onDirectText);
    /// Calls onChild(name) for each child element of the current element; onChild reads or
    /// skips it and returns false on a broken document, as does this.
    template<typename F>
    bool forEachChild(F &&onChild);
    bool readText(QString *out);
    bool readLangText(LangText *out);
    bool readLangTextInto(QList<LangText> *list);
    Icon iconFromAttributes();
    bool parseChannel();
    bool parseProgramme();
    bool parseCredits(Programme *p);
    bool parseVideo(Programme *p);
    bool parseAudio(Programme *p);
    bool parseRating(QList<Rating> *list);
    bool parseSubtitles(Programme *p);
    bool parseLength(Programme *p);
    bool parseYesNo(bool *value, bool *has);
    QString capped(QStringView value, QStringView what);
    /// The trimmed value of an attribute of the current element, capped like texts are.
    QString attribute(const char *name);

    ArchiveSource m_source;
    ByteSanitizer m_sanitizer;
    const XmltvReader::ChannelSink &m_channelSink;
    const XmltvReader::ProgrammeSink &m_programmeSink;
    iptv::DiagnosticList *m_diag;
    const XmltvReadOptions &m_options;
    QString m_name;
    GuideData *m_header;

    QXmlStreamReader m_xml;
    QByteArray m_chunk;
    bool m_eof = false;

    // The last bytes handed to the parser, to find the next <programme> after an XML error.
    QByteArray m_window;
    qint64 m_windowStart = 0;     // absolute offset of m_window[0] in the sanitized stream
    qint64 m_windowStartLine = 1; // its line
    // Where the current QXmlStreamReader started (it is replaced on every resync).
    qint64 m_readerStart = 0;
    qint64 m_readerStartLine = 1;
    qint64 m_readerStartColumn = 1;
    qint64 m_prefixLength = 0;

    QSet<QString> m_channelIds;
    qint64 m_elementsInItem = 0;
    bool m_elementLimitWarned = false;
    bool m_zonelessWarned = false;

    static QString zoneName(const QTimeZone &zone)
    {
        return zone == QTimeZone::utc() ? QStringLiteral("UTC") : QString::fromUtf8(zone.id());
    }
    qint64 m_channels = 0;
    qint64 m_programmes = 0;
};

bool Parser::pullChunk(QByteArray *out)
{
    while (!m_eof) {
        const qint64 n = m_source.read(m_chunk.data(), m_chunk.size());
        if (n <= 0) {
            m_eof = true;
            *out = m_sanitizer.flush();
            return !out->isEmpty();
        }
        *out = m_sanitizer.process(m_chunk.constData(), n);
        if (!out->isEmpty())
            return true;
    }
    return false;
}

void Parser::appendToWindow(const QByteArray &bytes)
{
    m_window.append(bytes);
    const qint64 excess = m_window.size() - 2 * s_chunkSize;
    if (excess > 0) {
        m_windowStartLine += std::count(m_window.constBegin(), m_window.constBegin() + excess, '\n');
        m_window.remove(0, excess);
        m_windowStart += excess;
    }
}

bool Parser::feed()
{
    QByteArray bytes;
    if (!pullChunk(&bytes))
        return false;
    appendToWindow(bytes);
    m_xml.addData(bytes);
    return true;
}

QXmlStreamReader::TokenType Parser::next()
{
    for (;;) {
        const auto t = m_xml.readNext();
        if (t == QXmlStreamReader::StartElement) {
            ++m_elementsInItem;
        } else if (t == QXmlStreamReader::Invalid
                   && m_xml.error() == QXmlStreamReader::PrematureEndOfDocumentError && feed()) {
            continue;
        }
        return t;
    }
}

bool Parser::resync(qint64 errorLine, qint64 errorColumn)
{
    if (!m_sanitizer.isAsciiCompatible())
        return false;
    // Find the error line in the window; the next <programme> or <channel> after the error column
    // is where a fresh parser can pick up. Columns count characters, bytes are at least as many,
    // so starting the search there never skips a good element.
    qint64 lineNo = m_windowStartLine;
    qint64 i = 0;
    while (lineNo < errorLine && i < m_window.size()) {
        const void *nl = std::memchr(m_window.constData() + i, '\n', size_t(m_window.size() - i));
        if (!nl) {
            i = m_window.size();
            break;
        }
        i = static_cast<const char *>(nl) - m_window.constData() + 1;
        ++lineNo;
    }
    qint64 searchFrom = m_windowStart + i + (lineNo == errorLine ? std::max<qint64>(0, errorColumn - 1) : 0);
    searchFrom = std::max(searchFrom, m_readerStart + 1);

    static const QByteArray s_programme = QByteArrayLiteral("<programme");
    static const QByteArray s_channel = QByteArrayLiteral("<channel");
    auto find = [this](const QByteArray &tag, qint64 from) -> qint64 {
        qint64 at = from;
        for (;;) {
            at = m_window.indexOf(tag, at);
            if (at < 0 || at + tag.size() >= m_window.size())
                return -1;
            const char c = m_window.at(at + tag.size());
            if (c == ' ' || c == '>' || c == '\t' || c == '\n' || c == '\r' || c == '/')
                return at;
            ++at;
        }
    };
    qint64 found = -1;
    for (;;) {
        const qint64 from = std::max<qint64>(0, searchFrom - m_windowStart);
        const qint64 p = find(s_programme, from);
        const qint64 c = find(s_channel, from);
        found = p < 0 ? c : (c < 0 ? p : std::min(p, c));
        if (found >= 0)
            break;
        // Keep a tail so a tag cut by the chunk boundary is still found.
        searchFrom = std::max(searchFrom, m_windowStart + m_window.size() - 16);
        QByteArray more;
        if (!pullChunk(&more))
            return false;
        appendToWindow(more);
    }

    const qint64 startLine =
        m_windowStartLine + std::count(m_window.constBegin(), m_window.constBegin() + found, '\n');
    const qint64 lastNewline = m_window.lastIndexOf('\n', found);
    const qint64 startColumn = found - lastNewline; // 1-based (lastNewline is -1 when none)

    const QByteArray prefix = "<?xml version=\"1.0\" encoding=\"" + m_sanitizer.encoding() + "\"?><tv>";
    m_xml.clear();
    m_xml.setNamespaceProcessing(false);
    m_xml.addData(prefix + m_window.mid(found));
    m_readerStart = m_windowStart + found;
    m_readerStartLine = startLine;
    m_readerStartColumn = startColumn;
    m_prefixLength = prefix.size();
    for (;;) {
        const auto t = next();
        if (t == QXmlStreamReader::StartElement)
            return true; // the synthetic <tv>
        if (t == QXmlStreamReader::Invalid)
            return false;
    }
}

QString Parser::capped(QStringView value, QStringView what)
{
    if (value.size() <= m_options.maxTextLength)
        return value.toString();
    warn(line(), what + u" longer than " + QString::number(m_options.maxTextLength) + u" characters, truncated");
    qsizetype n = qsizetype(m_options.maxTextLength);
    if (n > 0 && value[n - 1].isHighSurrogate())
        --n;
    return value.first(n).toString();
}

QString Parser::attribute(const char *name)
{
    const QStringView value = m_xml.attributes().value(QLatin1String(name)).trimmed();
    if (value.size() <= m_options.maxTextLength)
        return value.toString();
    const QString what = u'<' + m_xml.name().toString() + u' ' + QLatin1String(name) + u"=\"...\">";
    return capped(value, what).trimmed(); // the cut may leave inner whitespace at the end
}

template<typename F>
bool Parser::walkToEnd(F &&onDirectText)
{
    int depth = 1;
    while (depth > 0) {
        const auto t = next();
        switch (t) {
        case QXmlStreamReader::Characters:
        case QXmlStreamReader::EntityReference:
            if (depth == 1)
                onDirectText(t);
            break;
        case QXmlStreamReader::StartElement:
            if (++depth > s_maxDepth) {
                m_xml.raiseError(QStringLiteral("elements nested too deeply"));
                return false;
            }
            break;
        case QXmlStreamReader::EndElement:
            --depth;
            break;
        case QXmlStreamReader::Invalid:
            return false;
        default:
            break;
        }
    }
    return true;
}

bool Parser::skipElement()
{
    return walkToEnd([](QXmlStreamReader::TokenType) {});
}

bool Parser::readText(QString *out)
{
    const qint64 startLine = line();
    const QString element = m_xml.name().toString();
    QString text;
    bool truncated = false;
    auto append = [&](QStringView piece) {
        if (truncated || piece.isEmpty())
            return;
        const qint64 room = m_options.maxTextLength - text.size();
        if (piece.size() > room) {
            qsizetype n = qsizetype(std::max<qint64>(0, room));
            if (n > 0 && piece[n - 1].isHighSurrogate())
                --n;
            text.append(piece.first(n));
            truncated = true;
            return;
        }
        text.append(piece);
    };
    const bool ok = walkToEnd([&](QXmlStreamReader::TokenType t) {
        if (t == QXmlStreamReader::Characters)
            append(m_xml.text());
        else
            append(m_xml.text().isEmpty() ? htmlEntity(m_xml.name()) : m_xml.text().toString());
    });
    if (!ok)
        return false;
    if (truncated) {
        warn(startLine, u'<' + element + u"> text longer than " + QString::number(m_options.maxTextLength)
                            + u" characters, truncated");
    }
    // A CR can only reach here as &#13;; QXmlStreamWriter prints it raw and the next read turns it
    // into a line feed, so normalise line ends now to keep read(write(x)) == x.
    if (text.contains(u'\r')) {
        text.replace(u"\r\n"_qs, u"\n"_qs);
        text.replace(u'\r', u'\n');
    }
    *out = text.trimmed();
    return true;
}

bool Parser::readLangText(LangText *out)
{
    out->lang = attribute("lang");
    return readText(&out->text);
}

bool Parser::readLangTextInto(QList<LangText> *list)
{
    LangText t;
    if (!readLangText(&t))
        return false;
    if (!t.text.isEmpty())
        list->append(std::move(t));
    return true;
}

Icon Parser::iconFromAttributes()
{
    const QXmlStreamAttributes a = m_xml.attributes();
    Icon icon;
    icon.src = attribute("src");
    icon.width = toInt(a.value(QLatin1String("width")));
    icon.height = toInt(a.value(QLatin1String("height")));
    return icon;
}

template<typename F>
bool Parser::forEachChild(F &&onChild)
{
    for (;;) {
        const auto t = next();
        if (t == QXmlStreamReader::EndElement)
            return true;
        if (t == QXmlStreamReader::Invalid)
            return false;
        if (t == QXmlStreamReader::StartElement && !onChild(m_xml.name()))
            return false;
    }
}

bool Parser::parseChannel()
{
    const qint64 startLine = line();
    Channel c;
    c.id = attribute("id");
    m_elementsInItem = 0;
    const bool read = forEachChild([&](QStringView name) {
        bool ok = true;
        if (m_elementsInItem > m_options.maxElementsPerProgramme) {
            ok = skipElement();
        } else if (name == u"display-name") {
            ok = readLangTextInto(&c.displayNames);
        } else if (name == u"icon") {
            Icon icon = iconFromAttributes();
            if (!icon.src.isEmpty())
                c.icons.append(std::move(icon));
            ok = skipElement();
        } else if (name == u"url") {
            QString url;
            ok = readText(&url);
            if (!url.isEmpty())
                c.urls.append(url);
        } else {
            ok = skipElement();
        }
        return ok;
    });
    if (!read)
        return false;
    if (c.id.isEmpty()) {
        error(startLine, QStringLiteral("<channel> without id skipped"));
        return true;
    }
    if (m_channelIds.contains(c.id)) {
        warn(startLine, u"duplicate channel id \"" + c.id + u"\": the first definition is kept");
        return true;
    }
    m_channelIds.insert(c.id);
    ++m_channels;
    if (m_channelSink)
        m_channelSink(std::move(c));
    return true;
}

bool Parser::parseYesNo(bool *value, bool *has)
{
    const qint64 at = line();
    const QString element = m_xml.name().toString();
    QString text;
    if (!readText(&text))
        return false;
    if (isYes(text)) {
        *value = true;
        *has = true;
    } else if (isNo(text)) {
        *value = false;
        *has = true;
    } else {
        warn(at, u'<' + element + u"> should be yes or no, not \"" + text + u"\"; ignored");
    }
    return true;
}

bool Parser::parseVideo(Programme *p)
{
    return forEachChild([&](QStringView name) {
        if (name == u"present")
            return parseYesNo(&p->video.present, &p->video.hasPresent);
        if (name == u"colour")
            return parseYesNo(&p->video.colour, &p->video.hasColour);
        if (name == u"aspect")
            return readText(&p->video.aspect);
        if (name == u"quality")
            return readText(&p->video.quality);
        return skipElement();
    });
}

bool Parser::parseAudio(Programme *p)
{
    return forEachChild([&](QStringView name) {
        if (name == u"present")
            return parseYesNo(&p->audio.present, &p->audio.hasPresent);
        if (name == u"stereo")
            return readText(&p->audio.stereo);
        return skipElement();
    });
}

bool Parser::parseRating(QList<Rating> *list)
{
    Rating r;
    r.system = attribute("system");
    const bool ok = forEachChild([&](QStringView name) {
        if (name == u"value") {
            QString v;
            const bool read = readText(&v);
            if (r.value.isEmpty())
                r.value = v;
            return read;
        }
        if (name == u"icon") {
            Icon icon = iconFromAttributes();
            if (!icon.src.isEmpty())
                r.icons.append(std::move(icon));
        }
        return skipElement();
    });
    if (!ok)
        return false;
    if (!r.value.isEmpty() || !r.icons.isEmpty())
        list->append(std::move(r));
    return true;
}

bool Parser::parseSubtitles(Programme *p)
{
    Subtitles s;
    s.type = attribute("type");
    const bool ok = forEachChild([&](QStringView name) {
        if (name == u"language" && s.lang.isEmpty())
            return readText(&s.lang);
        return skipElement();
    });
    if (!ok)
        return false;
    p->subtitles.append(std::move(s));
    return true;
}

bool Parser::parseLength(Programme *p)
{
    const qint64 at = line();
    const QString units = attribute("units");
    QString text;
    if (!readText(&text))
        return false;
    qint64 scale = 0;
    if (units == u"seconds")
        scale = 1;
    else if (units == u"minutes")
        scale = 60;
    else if (units == u"hours")
        scale = 3600;
    bool ok = false;
    const qint64 value = text.toLongLong(&ok);
    if (scale == 0) {
        warn(at, u"<length> with unknown units \"" + units + u"\" ignored");
    } else if (!ok || value <= 0 || value > std::numeric_limits<int>::max() / scale) {
        warn(at, u"<length> \"" + text + u"\" is not a usable number; ignored");
    } else {
        p->lengthSeconds = int(value * scale);
    }
    return true;
}

bool Parser::parseCredits(Programme *p)
{
    static const struct
    {
        const char16_t *name;
        Credit::Role role;
    } roles[] = {
        {u"director", Credit::Role::Director},   {u"actor", Credit::Role::Actor},
        {u"writer", Credit::Role::Writer},       {u"adapter", Credit::Role::Adapter},
        {u"producer", Credit::Role::Producer},   {u"composer", Credit::Role::Composer},
        {u"editor", Credit::Role::Editor},       {u"presenter", Credit::Role::Presenter},
        {u"commentator", Credit::Role::Commentator}, {u"guest", Credit::Role::Guest},
    };
    for (;;) {
        const auto t = next();
        if (t == QXmlStreamReader::EndElement)
            return true;
        if (t == QXmlStreamReader::Invalid)
            return false;
        if (t != QXmlStreamReader::StartElement)
            continue;
        const QStringView name = m_xml.name();
        const auto *role = std::find_if(std::begin(roles), std::end(roles),
                                        [name](const auto &r) { return name == QStringView(r.name); });
        if (role == std::end(roles) || m_elementsInItem > m_options.maxElementsPerProgramme) {
            if (!skipElement())
                return false;
            continue;
        }
        Credit c;
        c.role = role->role;
        const QXmlStreamAttributes a = m_xml.attributes();
        c.character = attribute("role");
        c.guest = isYes(a.value(QLatin1String("guest")).trimmed());
        if (!readText(&c.name))
            return false;
        if (!c.name.isEmpty())
            p->credits.append(std::move(c));
    }
}

bool Parser::parseProgramme()
{
    const qint64 startLine = line();
    const qint64 startColumn = column();
    m_elementsInItem = 0;
    m_elementLimitWarned = false;
    Programme p;
    p.origin = {m_name, startLine};
    QString problem;
    {
        const QXmlStreamAttributes a = m_xml.attributes();
        p.channelId = attribute("channel");
        const QStringView start = a.value(QLatin1String("start"));
        const QStringView stop = a.value(QLatin1String("stop"));
        QString why;
        if (p.channelId.isEmpty()) {
            problem = QStringLiteral("no channel attribute");
        } else if (start.trimmed().isEmpty()) {
            problem = QStringLiteral("no start attribute");
        } else if (bool zoneGiven = true;
                   !parseXmltvTime(start, m_options.defaultZone, &p.start, &p.startUtcOffset, &why, &zoneGiven)) {
            problem = u"unparsable start: " + why;
        } else if (!zoneGiven && !m_zonelessWarned) {
            // Once per file: a guide written in local time without saying so is common, and
            // read in the wrong zone it shifts every programme.
            m_zonelessWarned = true;
            warn(startLine, u"times without a UTC offset (first: start=\"" + start.toString() + u"\") are read as "
                                + zoneName(m_options.defaultZone)
                                + u" local time; give the guide's zone with --time-zone (iptvnext: [sources] time_zone) if that is wrong");
        }
        if (problem.isEmpty() && !stop.trimmed().isEmpty()) {
            int stopOffset = 0;
            if (!parseXmltvTime(stop, m_options.defaultZone, &p.stop, &stopOffset, &why)) {
                warn(startLine, u"programme on " + p.channelId + u": unparsable stop ignored: " + why);
                p.stop = 0;
            } else if (p.stop <= p.start) {
                warn(startLine, u"programme on " + p.channelId + u": stop " + stop.toString()
                                    + u" is not after start " + start.toString() + u"; ignored");
                p.stop = 0;
            }
        }
    }

    for (;;) {
        const auto t = next();
        if (t == QXmlStreamReader::EndElement)
            break;
        if (t == QXmlStreamReader::Invalid)
            return false;
        if (t != QXmlStreamReader::StartElement)
            continue;
        if (m_elementsInItem > m_options.maxElementsPerProgramme) {
            if (!m_elementLimitWarned) {
                m_elementLimitWarned = true;
                warn(line(), u"programme has more than " + QString::number(m_options.maxElementsPerProgramme)
                                 + u" elements; the rest are ignored");
            }
            if (!skipElement())
                return false;
            continue;
        }
        const QStringView name = m_xml.name();
        bool ok = true;
        if (name == u"title") {
            ok = readLangTextInto(&p.titles);
        } else if (name == u"sub-title") {
            ok = readLangTextInto(&p.subTitles);
        } else if (name == u"desc") {
            ok = readLangTextInto(&p.descs);
        } else if (name == u"credits") {
            ok = parseCredits(&p);
        } else if (name == u"date") {
            QString date;
            ok = readText(&date);
            if (p.date.isEmpty())
                p.date = date;
        } else if (name == u"category") {
            ok = readLangTextInto(&p.categories);
        } else if (name == u"keyword") {
            ok = readLangTextInto(&p.keywords);
        } else if (name == u"language" || name == u"orig-language") {
            LangText *target = name == u"language" ? &p.language : &p.origLanguage;
            LangText t2;
            ok = readLangText(&t2);
            if (target->text.isEmpty())
                *target = std::move(t2);
        } else if (name == u"length") {
            ok = parseLength(&p);
        } else if (name == u"icon") {
            Icon icon = iconFromAttributes();
            if (!icon.src.isEmpty())
                p.icons.append(std::move(icon));
            ok = skipElement();
        } else if (name == u"url") {
            QString url;
            ok = readText(&url);
            if (!url.isEmpty())
                p.urls.append(url);
        } else if (name == u"country") {
            ok = readLangTextInto(&p.countries);
        } else if (name == u"episode-num") {
            EpisodeNum e;
            e.system = attribute("system");
            if (e.system.isEmpty())
                e.system = QStringLiteral("onscreen"); // the DTD default
            ok = readText(&e.value);
            if (!e.value.isEmpty())
                p.episodeNums.append(std::move(e));
        } else if (name == u"video") {
            ok = parseVideo(&p);
        } else if (name == u"audio") {
            ok = parseAudio(&p);
        } else if (name == u"previously-shown") {
            const QXmlStreamAttributes a = m_xml.attributes();
            p.airing.previouslyShown = true;
            p.airing.previouslyShownStart = attribute("start");
            p.airing.previouslyShownChannel = attribute("channel");
            ok = skipElement();
        } else if (name == u"premiere") {
            p.airing.premiere = true;
            ok = readLangText(&p.airing.premiereText);
        } else if (name == u"last-chance") {
            p.airing.lastChance = true;
            ok = readLangText(&p.airing.lastChanceText);
        } else if (name == u"new") {
            p.airing.isNew = true;
            ok = skipElement();
        } else if (name == u"subtitles") {
            ok = parseSubtitles(&p);
        } else if (name == u"rating") {
            ok = parseRating(&p.ratings);
        } else if (name == u"star-rating") {
            ok = parseRating(&p.starRatings);
        } else if (name == u"review") {
            const QStringView type = m_xml.attributes().value(QLatin1String("type")).trimmed();
            if (type.isEmpty() || type == u"text")
                ok = readLangTextInto(&p.reviews);
            else
                ok = skipElement(); // url reviews are not kept
        } else {
            ok = skipElement();
        }
        if (!ok)
            return false;
    }

    if (!problem.isEmpty()) {
        m_diag->error(m_name, startLine, startColumn, u"programme skipped: " + problem);
        return true;
    }
    // The DTD fixes the credit order; keeping it makes read(write(x)) == x hold for any input.
    std::stable_sort(p.credits.begin(), p.credits.end(),
                     [](const Credit &a, const Credit &b) { return a.role < b.role; });
    ++m_programmes;
    if (m_programmeSink)
        m_programmeSink(std::move(p));
    return true;
}

bool Parser::run()
{
    if (!m_source.open()) {
        m_diag->fatal(m_name, 0, 0, u"cannot read input: " + m_source.errorString());
        return false;
    }

    // The root.
    for (;;) {
        const auto t = next();
        if (t == QXmlStreamReader::StartElement) {
            if (m_xml.name() != u"tv") {
                m_diag->fatal(m_name, line(), column(),
                              u"not an XMLTV file: the root element is <" + m_xml.name().toString() + u">, not <tv>");
                return false;
            }
            if (m_header) {
                m_header->generatorName = attribute("generator-info-name");
                m_header->sourceInfoName = attribute("source-info-name");
            }
            break;
        }
        if (t == QXmlStreamReader::Invalid) {
            QString why = m_xml.error() == QXmlStreamReader::PrematureEndOfDocumentError
                ? QStringLiteral("no <tv> root element")
                : m_xml.errorString();
            if (!m_source.errorString().isEmpty())
                why += u" (" + m_source.errorString() + u')';
            m_diag->fatal(m_name, line(), column(), u"not an XMLTV file: " + why);
            return false;
        }
    }

    // The channels and programmes.
    for (;;) {
        const auto t = next();
        bool ok = true;
        if (t == QXmlStreamReader::StartElement) {
            const QStringView name = m_xml.name();
            if (name == u"programme")
                ok = parseProgramme();
            else if (name == u"channel")
                ok = parseChannel();
            else
                ok = skipElement();
            if (ok && m_options.cancelled && m_options.cancelled()) {
                m_diag->warning(m_name, line(), column(),
                                u"reading cancelled after " + QString::number(m_channels) + u" channels and "
                                    + QString::number(m_programmes) + u" programmes");
                break;
            }
        } else if (t == QXmlStreamReader::EndElement || t == QXmlStreamReader::EndDocument) {
            break; // </tv>: trailing bytes are not looked at
        } else if (t == QXmlStreamReader::Invalid) {
            ok = false;
        }
        if (ok)
            continue;

        const qint64 errLine = line();
        const qint64 errColumn = column();
        if (m_xml.error() == QXmlStreamReader::PrematureEndOfDocumentError) {
            const QString why = m_source.errorString().isEmpty()
                ? QStringLiteral("unexpected end of input (truncated file?)")
                : u"input ends early: " + m_source.errorString();
            m_diag->fatal(m_name, errLine, errColumn,
                          why + u"; kept the " + QString::number(m_channels) + u" channels and "
                              + QString::number(m_programmes) + u" programmes before it");
            break;
        }
        QString why = m_xml.errorString();
        if (why.endsWith(u'.'))
            why.chop(1);
        if (resync(errLine, errColumn)) {
            m_diag->error(m_name, errLine, errColumn,
                          u"malformed XML: " + why + u"; resumed at line " + QString::number(m_readerStartLine)
                              + u", column " + QString::number(m_readerStartColumn));
        } else {
            m_diag->fatal(m_name, errLine, errColumn, u"malformed XML: " + why + u"; nothing readable after it");
            break;
        }
    }
    m_source.finishProgress();
    qCDebug(lcXmltvReader) << m_name << "compression" << m_source.compression() << m_channels << "channels"
                           << m_programmes << "programmes";
    return true;
}

bool readDeviceImpl(QIODevice *device, const XmltvReader::ChannelSink &channels,
                    const XmltvReader::ProgrammeSink &programmes, iptv::DiagnosticList *diagnostics,
                    const XmltvReadOptions &options, const QString &source, GuideData *header)
{
    iptv::DiagnosticList scratch;
    if (!diagnostics)
        diagnostics = &scratch;
    if (!device || !device->isReadable()) {
        diagnostics->fatal(source, 0, 0, QStringLiteral("cannot read input: device not open for reading"));
        return false;
    }
    Parser parser(device, channels, programmes, diagnostics, options, source, header);
    return parser.run();
}

bool readFileImpl(const QString &path, const XmltvReader::ChannelSink &channels,
                  const XmltvReader::ProgrammeSink &programmes, iptv::DiagnosticList *diagnostics,
                  const XmltvReadOptions &options, GuideData *header)
{
    const QString source = options.sourceName.isEmpty() ? path : options.sourceName;
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly)) {
        if (diagnostics)
            diagnostics->fatal(source, 0, 0, u"cannot open: " + file.errorString());
        return false;
    }
    return readDeviceImpl(&file, channels, programmes, diagnostics, options, source, header);
}

bool readBytesImpl(const QByteArray &bytes, const XmltvReader::ChannelSink &channels,
                   const XmltvReader::ProgrammeSink &programmes, iptv::DiagnosticList *diagnostics,
                   const XmltvReadOptions &options, GuideData *header)
{
    QByteArray copy = bytes; // shares the data; QBuffer needs a non-const array
    QBuffer buffer(&copy);
    buffer.open(QIODevice::ReadOnly);
    return readDeviceImpl(&buffer, channels, programmes, diagnostics, options, options.sourceName, header);
}

} // namespace

bool XmltvReader::readFile(const QString &path, const ChannelSink &channels, const ProgrammeSink &programmes,
                           iptv::DiagnosticList *diagnostics, const XmltvReadOptions &options)
{
    return readFileImpl(path, channels, programmes, diagnostics, options, nullptr);
}

bool XmltvReader::readDevice(QIODevice *device, const ChannelSink &channels, const ProgrammeSink &programmes,
                             iptv::DiagnosticList *diagnostics, const XmltvReadOptions &options)
{
    QString source = options.sourceName;
    if (source.isEmpty()) {
        if (auto *file = qobject_cast<QFile *>(device))
            source = file->fileName();
    }
    return readDeviceImpl(device, channels, programmes, diagnostics, options, source, nullptr);
}

bool XmltvReader::readBytes(const QByteArray &bytes, const ChannelSink &channels, const ProgrammeSink &programmes,
                            iptv::DiagnosticList *diagnostics, const XmltvReadOptions &options)
{
    return readBytesImpl(bytes, channels, programmes, diagnostics, options, nullptr);
}

GuideData XmltvReader::readAll(const QString &path, iptv::DiagnosticList *diagnostics, bool *ok,
                               const XmltvReadOptions &options)
{
    GuideData data;
    const bool result = readFileImpl(
        path, [&data](Channel &&c) { data.channels.append(std::move(c)); },
        [&data](Programme &&p) { data.programmes.append(std::move(p)); }, diagnostics, options, &data);
    if (ok)
        *ok = result;
    return data;
}

GuideData XmltvReader::readAllBytes(const QByteArray &bytes, iptv::DiagnosticList *diagnostics, bool *ok,
                                    const XmltvReadOptions &options)
{
    GuideData data;
    const bool result = readBytesImpl(
        bytes, [&data](Channel &&c) { data.channels.append(std::move(c)); },
        [&data](Programme &&p) { data.programmes.append(std::move(p)); }, diagnostics, options, &data);
    if (ok)
        *ok = result;
    return data;
}

} // namespace iptv::epg
