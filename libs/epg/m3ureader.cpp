#include "m3ureader.h"

#include <QFile>
#include <QLoggingCategory>
#include <QStringDecoder>

#include <cmath>

Q_LOGGING_CATEGORY(lcM3u, "iptv.epg.m3u", QtInfoMsg)

using namespace Qt::StringLiterals;

namespace iptv::epg {

namespace {

// Larger numbers are typos or hostile input; keeping them would also let "next free number"
// arithmetic in the channel mapper overflow.
constexpr int MaxChannelNumber = 999'999;
constexpr int MaxCatchupDays = 3650;

QString quoted(QStringView text)
{
    constexpr qsizetype shown = 60;
    QString s = text.size() > shown ? text.left(shown).toString() + u"…" : text.toString();
    return u'"' + s + u'"';
}

bool isSpace(QChar c)
{
    return c == u' ' || c == u'\t';
}

struct Attribute
{
    QString key;   // lower-cased
    QString value;
    qsizetype column = 0;
};

/// What came out of the text after "#EXTINF:" or "#EXTM3U".
struct ParsedDirective
{
    QString durationText;
    QList<Attribute> attributes;
    QString name;
    bool hasComma = false;
    QStringList strayWords; // tokens that were not key=value
};

/// Parses `[duration] key=value key='value' key="value" ... ,name`. `offset` is the column of
/// text[0] in the line, for diagnostics. Quoted values may contain commas; the name starts after the
/// first comma outside quotes.
ParsedDirective parseDirective(QStringView text, qsizetype offset, bool withDuration, const QString &source,
                               qint64 line, DiagnosticList *diag)
{
    ParsedDirective out;
    qsizetype i = 0;
    const qsizetype n = text.size();
    auto skipSpaces = [&] {
        while (i < n && isSpace(text[i]))
            ++i;
    };

    skipSpaces();
    if (withDuration) {
        const qsizetype start = i;
        while (i < n && !isSpace(text[i]) && text[i] != u',')
            ++i;
        out.durationText = text.mid(start, i - start).toString();
    }

    while (true) {
        skipSpaces();
        if (i >= n)
            break;
        if (text[i] == u',') {
            out.hasComma = true;
            out.name = text.mid(i + 1).trimmed().toString();
            break;
        }
        const qsizetype keyStart = i;
        while (i < n && !isSpace(text[i]) && text[i] != u',' && text[i] != u'=')
            ++i;
        const QStringView key = text.mid(keyStart, i - keyStart);
        // Tolerate "key = value": look past spaces for the '='.
        qsizetype afterKey = i;
        while (afterKey < n && isSpace(text[afterKey]))
            ++afterKey;
        if (!key.isEmpty() && afterKey < n && text[afterKey] == u'=') {
            i = afterKey;
        }
        if (i >= n || text[i] != u'=' || key.isEmpty()) {
            if (i < n && text[i] == u'=') // "=value" with no key: step over the '=' so we progress
                ++i;
            if (!key.isEmpty())
                out.strayWords.append(key.toString());
            continue;
        }
        ++i; // '='
        // Spaces after '=' only before a quoted value: "logo= group-title=..." is an empty logo.
        qsizetype valueAt = i;
        while (valueAt < n && isSpace(text[valueAt]))
            ++valueAt;
        if (valueAt < n && (text[valueAt] == u'"' || text[valueAt] == u'\''))
            i = valueAt;
        Attribute attr;
        attr.key = key.toString().toLower();
        attr.column = offset + keyStart + 1;
        if (i < n && (text[i] == u'"' || text[i] == u'\'')) {
            const QChar quote = text[i];
            const qsizetype valueStart = i + 1;
            const qsizetype close = text.indexOf(quote, valueStart);
            if (close >= 0) {
                attr.value = text.mid(valueStart, close - valueStart).toString();
                i = close + 1;
            } else {
                // An unterminated quote swallows the rest of the line; the last comma is the
                // likeliest end of it, so the channel name survives.
                const qsizetype lastComma = text.lastIndexOf(u',');
                if (lastComma >= valueStart) {
                    attr.value = text.mid(valueStart, lastComma - valueStart).toString();
                    i = lastComma;
                } else {
                    attr.value = text.mid(valueStart).toString();
                    i = n;
                }
                if (diag)
                    diag->warning(source, line, attr.column,
                                  u"attribute %1 has no closing quote; took %2 as its value"_s
                                      .arg(attr.key, quoted(attr.value)));
            }
        } else {
            const qsizetype valueStart = i;
            while (i < n && !isSpace(text[i]) && text[i] != u',')
                ++i;
            attr.value = text.mid(valueStart, i - valueStart).toString();
        }
        out.attributes.append(std::move(attr));
    }
    return out;
}

/// A stream URL, or a path a player would open. Anything else on a non-comment line is garbage.
bool looksLikeUrl(QStringView s)
{
    // scheme "://": http, https, rtp, udp, rtmp, rtsp, mms, srt, file, ...
    const qsizetype sep = s.indexOf(u"://");
    if (sep > 0) {
        bool schemeOk = s[0].isLetter() && s[0].unicode() < 128;
        for (qsizetype k = 1; k < sep && schemeOk; ++k) {
            const char16_t c = s[k].unicode();
            schemeOk = (c < 128 && s[k].isLetterOrNumber()) || c == u'+' || c == u'-' || c == u'.';
        }
        if (schemeOk)
            return true;
    }
    if (s.startsWith(u'/') || s.startsWith(u"./") || s.startsWith(u"../") || s.startsWith(u"\\\\"))
        return true;
    if (s.size() >= 3 && s[0].isLetter() && s[1] == u':' && (s[2] == u'\\' || s[2] == u'/'))
        return true; // C:\videos\a.ts
    // A bare relative path: one word with a dot or a slash in it ("news.ts", "live/ch1.m3u8").
    for (QChar c : s) {
        if (c.isSpace())
            return false;
    }
    return s.contains(u'.') || s.contains(u'/');
}

class Parser
{
public:
    Parser(const QString &source, DiagnosticList *diag) : m_source(source), m_diag(diag) {}

    Lineup run(const QByteArray &bytes);

private:
    void warning(qint64 line, qint64 column, const QString &message)
    {
        m_diag->warning(m_source, line, column, message);
    }
    void error(qint64 line, qint64 column, const QString &message)
    {
        m_diag->error(m_source, line, column, message);
    }

    QString decodeLine(QByteArrayView raw, qint64 line);
    void handleLine(QStringView text, qint64 line);
    void handleHeader(QStringView rest, qint64 line);
    void handleExtinf(QStringView rest, qsizetype offset, qint64 line);
    void handleUrl(QStringView text, qint64 line);
    void addExtra(const QString &key, const QString &value);
    void dropPending(const QString &why);
    void finishEntry(M3uEntry entry);
    void addGuideUrls(const QString &value);

    const QString &m_source;
    DiagnosticList *m_diag;
    Lineup m_lineup;
    bool m_sawContent = false;
    bool m_sawHeader = false;
    bool m_warnedHls = false;
    bool m_havePending = false;
    qint64 m_latin1Lines = 0;
    M3uEntry m_pending;
    QMap<QString, QString> m_nextExtras; // #EXTGRP/#EXTVLCOPT/#KODIPROP seen before the next #EXTINF
};

Lineup Parser::run(const QByteArray &bytes)
{
    QByteArrayView data(bytes);
    if (data.startsWith("\xEF\xBB\xBF"))
        data = data.sliced(3);

    if (data.startsWith("\x1F\x8B")) {
        error(1, 0, u"this is gzip-compressed data, not a lineup; decompress it first"_s);
        return std::move(m_lineup);
    }
    if (data.startsWith("\xFF\xFE") || data.startsWith("\xFE\xFF")) {
        error(1, 0, u"this is UTF-16 text; lineups must be UTF-8"_s);
        return std::move(m_lineup);
    }

    qint64 lineNo = 0;
    qsizetype pos = 0;
    const qsizetype size = data.size();
    while (pos < size) {
        ++lineNo;
        qsizetype end = pos;
        while (end < size && data[end] != '\n' && data[end] != '\r')
            ++end;
        const QByteArrayView raw = data.sliced(pos, end - pos);
        // "\r\n", "\n" and a lone "\r" each end one line.
        pos = end;
        if (pos < size && data[pos] == '\r') {
            ++pos;
            if (pos < size && data[pos] == '\n')
                ++pos;
        } else if (pos < size) {
            ++pos; // '\n'
        }

        if (raw.size() > M3uReader::MaxLineLength) {
            error(lineNo, 0,
                  u"line is %1 bytes long, over the %2-byte limit; skipped"_s.arg(raw.size())
                      .arg(M3uReader::MaxLineLength));
            m_sawContent = true;
            continue;
        }
        const QString text = decodeLine(raw, lineNo);
        const QStringView trimmed = QStringView(text).trimmed();
        if (trimmed.isEmpty())
            continue;
        handleLine(trimmed, lineNo);
    }

    if (m_havePending)
        dropPending(u"the file ends before its stream URL"_s);
    if (m_latin1Lines > 1)
        warning(0, 0, u"%1 lines in all were not valid UTF-8 and were read as Latin-1"_s.arg(m_latin1Lines));
    if (!m_sawContent)
        warning(0, 0, u"empty lineup"_s);
    qCDebug(lcM3u) << m_source << "read" << m_lineup.entries.size() << "entries," << lineNo << "lines";
    return std::move(m_lineup);
}

QString Parser::decodeLine(QByteArrayView raw, qint64 line)
{
    bool ascii = true;
    bool controls = false;
    for (char c : raw) {
        const auto u = static_cast<unsigned char>(c);
        if (u >= 0x80)
            ascii = false;
        else if ((u < 0x20 && u != '\t') || u == 0x7F)
            controls = true;
    }
    QString text;
    if (ascii) {
        text = QString::fromLatin1(raw);
    } else {
        QStringDecoder decoder(QStringDecoder::Utf8, QStringDecoder::Flag::Stateless);
        text = decoder.decode(raw);
        if (decoder.hasError()) {
            // A Latin-1 file has this on every line with an accent: say it once, count the rest.
            if (m_latin1Lines++ == 0)
                warning(line, 0, u"line is not valid UTF-8; read it as Latin-1 (as any other such line)"_s);
            text = QString::fromLatin1(raw);
        }
    }
    if (controls) {
        // NULs and other control characters have no place in names or URLs; a player would
        // stop at them. Blank them so the rest of the line can still be judged.
        warning(line, 0, u"control characters in line replaced by spaces"_s);
        for (QChar &c : text) {
            const char16_t u = c.unicode();
            if ((u < 0x20 && u != u'\t') || u == 0x7F)
                c = u' ';
        }
    }
    return text;
}

void Parser::handleLine(QStringView text, qint64 line)
{
    const bool first = !m_sawContent;
    m_sawContent = true;

    if (text.startsWith(u"#EXTM3U", Qt::CaseInsensitive)) {
        if (!first)
            warning(line, 1, m_sawHeader ? u"another #EXTM3U header (concatenated lineups?); reading on"_s
                                         : u"#EXTM3U header is not on the first line"_s);
        m_sawHeader = true;
        handleHeader(text.mid(7), line);
        return;
    }
    if (first)
        warning(line, 1, u"missing #EXTM3U header; reading on as a lineup"_s);

    if (text.startsWith(u"#EXTINF", Qt::CaseInsensitive)) {
        qsizetype offset = 7;
        if (offset < text.size() && text[offset] == u':')
            ++offset;
        else
            warning(line, 8, u"#EXTINF without ':'"_s);
        handleExtinf(text.mid(offset), offset, line);
        return;
    }
    if (text.startsWith(u"#EXTGRP:", Qt::CaseInsensitive)) {
        addExtra(u"extgrp"_s, text.mid(8).trimmed().toString());
        return;
    }
    const bool vlc = text.startsWith(u"#EXTVLCOPT:", Qt::CaseInsensitive);
    const bool kodi = text.startsWith(u"#KODIPROP:", Qt::CaseInsensitive);
    if (vlc || kodi) {
        const QStringView option = text.mid(vlc ? 11 : 10).trimmed();
        const qsizetype eq = option.indexOf(u'=');
        const QString key = (eq >= 0 ? option.left(eq) : option).trimmed().toString().toLower();
        const QString value = eq >= 0 ? option.mid(eq + 1).trimmed().toString() : QString();
        if (key.isEmpty()) {
            warning(line, 1, u"empty %1 option; ignored"_s.arg(vlc ? u"#EXTVLCOPT"_s : u"#KODIPROP"_s));
            return;
        }
        addExtra((vlc ? u"vlcopt:"_s : u"kodiprop:"_s) + key, value);
        return;
    }
    if (text.startsWith(u"#EXT-X-", Qt::CaseInsensitive)) {
        if (!m_warnedHls) {
            m_warnedHls = true;
            warning(line, 1, u"%1 is an HLS tag: this looks like a stream playlist, not a channel lineup"_s
                                 .arg(text.left(text.indexOf(u':') > 0 ? text.indexOf(u':') : text.size())
                                          .toString()));
        }
        return;
    }
    if (text.startsWith(u'#'))
        return; // a comment, or a directive of another player we have no use for

    handleUrl(text, line);
}

void Parser::addGuideUrls(const QString &value)
{
    const auto parts = QStringView(value).split(u',');
    for (QStringView part : parts) {
        const QString url = part.trimmed().toString();
        if (!url.isEmpty() && !m_lineup.guideUrls.contains(url))
            m_lineup.guideUrls.append(url);
    }
}

void Parser::handleHeader(QStringView rest, qint64 line)
{
    const ParsedDirective d = parseDirective(rest, 7, false, m_source, line, m_diag);
    for (const Attribute &a : d.attributes) {
        if (a.key == u"x-tvg-url" || a.key == u"url-tvg" || a.key == u"tvg-url")
            addGuideUrls(a.value);
    }
    // Header attributes other than guide URLs (catchup defaults, refresh hints) are player
    // settings we do not act on; stray words are harmless there.
}

void Parser::addExtra(const QString &key, const QString &value)
{
    // A directive between #EXTINF and its URL belongs to that entry; one before any #EXTINF
    // belongs to the next entry.
    auto &target = m_havePending ? m_pending.attributes : m_nextExtras;
    target.insert(key, value);
}

void Parser::dropPending(const QString &why)
{
    error(m_pending.line, 0,
          u"#EXTINF for %1 has no stream URL (%2); entry dropped"_s
              .arg(quoted(m_pending.name.isEmpty() ? m_pending.tvgName : m_pending.name), why));
    m_havePending = false;
    m_pending = M3uEntry();
}

void Parser::handleExtinf(QStringView rest, qsizetype offset, qint64 line)
{
    if (m_havePending)
        dropPending(u"another #EXTINF follows on line %1"_s.arg(line));

    const ParsedDirective d = parseDirective(rest, offset, true, m_source, line, m_diag);
    M3uEntry e;
    e.line = line;

    if (!d.durationText.isEmpty()) {
        bool ok = false;
        const double duration = d.durationText.toDouble(&ok);
        if (ok && std::isfinite(duration))
            e.duration = duration;
        else
            warning(line, offset + 1, u"#EXTINF duration %1 is not a number; using -1"_s.arg(quoted(d.durationText)));
    } else {
        warning(line, offset + 1, u"#EXTINF has no duration; using -1"_s);
    }

    for (const Attribute &a : d.attributes) {
        if (e.attributes.contains(a.key)) {
            warning(line, a.column, u"attribute %1 given twice; kept the first"_s.arg(a.key));
            continue;
        }
        e.attributes.insert(a.key, a.value);
    }

    if (d.hasComma) {
        e.name = d.name;
        if (!d.strayWords.isEmpty())
            warning(line, 0, u"unexpected text %1 among the #EXTINF attributes; ignored"_s
                                 .arg(quoted(d.strayWords.join(u' '))));
    } else if (!d.strayWords.isEmpty()) {
        e.name = d.strayWords.join(u' ');
        warning(line, 0, u"#EXTINF has no comma before the channel name; took %1 as the name"_s.arg(quoted(e.name)));
    } else {
        warning(line, 0, u"#EXTINF has no comma and no channel name"_s);
    }

    auto attr = [&e](QLatin1StringView key) { return e.attributes.value(QString(key)); };
    e.tvgId = attr("tvg-id"_L1).trimmed();
    e.tvgName = attr("tvg-name"_L1).trimmed();
    e.tvgLogo = attr("tvg-logo"_L1).trimmed();
    if (e.tvgLogo.isEmpty())
        e.tvgLogo = attr("logo"_L1).trimmed();
    e.groupTitle = attr("group-title"_L1).trimmed();

    for (auto key : {"tvg-chno"_L1, "channel-number"_L1, "tvg-num"_L1}) {
        const QString value = attr(key).trimmed();
        if (value.isEmpty())
            continue;
        bool ok = false;
        const int number = value.toInt(&ok);
        if (ok && number > 0 && number <= MaxChannelNumber) {
            e.channelNumber = number;
            break;
        }
        warning(line, 0, u"%1 %2 is not a channel number (1 to %3); ignored"_s
                             .arg(key, quoted(value)).arg(MaxChannelNumber));
    }

    e.catchup = attr("catchup"_L1).trimmed();
    if (e.catchup.isEmpty())
        e.catchup = attr("catchup-type"_L1).trimmed();
    e.catchupSource = attr("catchup-source"_L1).trimmed();
    // catchup-days is the documented one; timeshift and tvg-rec are older spellings of the same.
    for (auto key : {"catchup-days"_L1, "timeshift"_L1, "tvg-rec"_L1}) {
        const QString value = attr(key).trimmed();
        if (value.isEmpty())
            continue;
        bool ok = false;
        const int days = value.toInt(&ok);
        if (ok && days >= 0 && days <= MaxCatchupDays) {
            e.catchupDays = days;
            break;
        }
        warning(line, 0, u"%1 %2 is not a number of days (0 to %3); ignored"_s
                             .arg(key, quoted(value)).arg(MaxCatchupDays));
    }

    for (auto it = m_nextExtras.cbegin(); it != m_nextExtras.cend(); ++it) {
        if (!e.attributes.contains(it.key()))
            e.attributes.insert(it.key(), it.value());
    }
    m_nextExtras.clear();

    m_pending = std::move(e);
    m_havePending = true;
}

void Parser::handleUrl(QStringView text, qint64 line)
{
    if (!looksLikeUrl(text)) {
        error(line, 1, u"%1 is neither a stream URL nor a #directive; line skipped"_s.arg(quoted(text)));
        return;
    }
    if (m_havePending) {
        M3uEntry e = std::move(m_pending);
        m_pending = M3uEntry();
        m_havePending = false;
        e.url = text.toString();
        finishEntry(std::move(e));
        return;
    }
    warning(line, 1, u"stream URL without #EXTINF; kept as an entry with no name"_s);
    M3uEntry e;
    e.line = line;
    e.url = text.toString();
    e.attributes = std::exchange(m_nextExtras, {});
    finishEntry(std::move(e));
}

void Parser::finishEntry(M3uEntry entry)
{
    if (entry.groupTitle.isEmpty())
        entry.groupTitle = entry.attributes.value(u"extgrp"_s);
    m_lineup.entries.append(std::move(entry));
}

} // namespace

Lineup M3uReader::readFile(const QString &path, DiagnosticList *diagnostics, bool *ok)
{
    DiagnosticList local;
    if (!diagnostics)
        diagnostics = &local;
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly)) {
        diagnostics->error(path, 0, 0, u"cannot open: "_s + file.errorString());
        if (ok)
            *ok = false;
        return {};
    }
    const QByteArray bytes = file.readAll();
    if (file.error() != QFileDevice::NoError) {
        diagnostics->error(path, 0, 0, u"cannot read: "_s + file.errorString());
        if (ok)
            *ok = false;
        return {};
    }
    if (ok)
        *ok = true;
    return parse(bytes, path, diagnostics);
}

Lineup M3uReader::parse(const QByteArray &bytes, const QString &sourceName, DiagnosticList *diagnostics)
{
    DiagnosticList local;
    Parser parser(sourceName, diagnostics ? diagnostics : &local);
    return parser.run(bytes);
}

} // namespace iptv::epg
