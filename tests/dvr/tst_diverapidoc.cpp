// docs/diver-api.md against the server: the document's examples are read from the markdown as
// they are written and played against a real in-process diver (and a real recast headend), as
// tst_controlprotocoldoc does for docs/protocol.md. The document's guide tables become the
// guide; every request it has a peer send is sent as it stands; every answer and WebSocket event
// it shows must come with the same status, the same keys and the same values. Only what differs
// from run to run is compared by type (counters of a recording in progress, creation times);
// times are the document's moved to the test's clock by whole minutes; "…" in a documented
// string stands for any text. A step the server does not answer as documented fails the test
// with the document's line.

#include "../common/diverticket.h"
#include "../recast/recasttest.h"

#include <config.h>
#include <diverserver.h>

#include <epg/guide.h>
#include <epg/guidewriter.h>
#include <payload/keys.h>
#include <protocol/boxticket.h>

#include <QDateTime>
#include <QFile>
#include <QJsonArray>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QWebSocket>

#include <map>

using namespace recasttest;
using iptv::diver::DiverConfig;
using iptv::diver::DiverServer;
using iptv::recast::RecastServer;

namespace {

/// The document's "now": every time in it is this many seconds before or after it.
constexpr qint64 kDocNow = 1796580000; // 2026-12-06T18:00:00Z
/// Numbers this close to kDocNow are times (ids, sizes and counters never are).
constexpr qint64 kTimeSpan = 30LL * 86400;
const QString kDocBase = QStringLiteral("http://diver.example.net:8420");
const QByteArray kAdminToken = QByteArrayLiteral("operator-secret");

struct Step
{
    enum Kind { Request, Response, Event, Socket };
    Kind kind = Request;
    QString peer;      ///< box, other box, operator, anyone
    int line = 0;      ///< in docs/diver-api.md
    // Request
    QByteArray method;
    QString path;
    QJsonValue body{QJsonValue::Undefined}; ///< undefined: none
    QList<std::pair<QByteArray, QByteArray>> headers;
    // Response
    int status = 0;
    QByteArray contentType;
    QStringList textBody; ///< the documented lines of a body that is not JSON
};

struct GuideRow
{
    QStringList cells;
    int line = 0;
};

/// The rows of the markdown table whose header row starts with `firstHeader`.
QList<GuideRow> tableRows(const QString &markdown, const QString &firstHeader)
{
    QList<GuideRow> rows;
    const QStringList lines = markdown.split(u'\n');
    for (qsizetype i = 0; i < lines.size(); ++i) {
        if (!lines[i].startsWith(u"| " + firstHeader + u' '))
            continue;
        for (qsizetype j = i + 2; j < lines.size() && lines[j].startsWith(u'|'); ++j) {
            QStringList cells = lines[j].split(u'|');
            cells = cells.mid(1, cells.size() - 2);
            for (QString &c : cells)
                c = c.trimmed().remove(u'`');
            rows.append({cells, int(j) + 1});
        }
        break;
    }
    return rows;
}

/// The JSON value that starts at `at` (objects and arrays may span lines); `end` is after it.
std::optional<QJsonValue> jsonAt(const QString &text, qsizetype at, qsizetype *end, QString *error)
{
    int depth = 0;
    bool inString = false;
    for (qsizetype i = at; i < text.size(); ++i) {
        const QChar c = text[i];
        if (inString) {
            if (c == u'\\')
                ++i;
            else if (c == u'"')
                inString = false;
            continue;
        }
        if (c == u'"')
            inString = true;
        else if (c == u'{' || c == u'[')
            ++depth;
        else if ((c == u'}' || c == u']') && --depth == 0) {
            QJsonParseError pe;
            const QString literal = text.mid(at, i + 1 - at);
            const QJsonDocument doc = QJsonDocument::fromJson((u"[" + literal + u"]").toUtf8(), &pe);
            if (pe.error != QJsonParseError::NoError) {
                *error = pe.errorString() + u" in " + literal.left(80);
                return std::nullopt;
            }
            *end = i + 1;
            return doc.array().first();
        }
    }
    *error = u"unterminated JSON: "_qs + text.mid(at, 80);
    return std::nullopt;
}

/// The steps of every fenced block: "box → GET /path {body}", indented request headers;
/// "box ← 200 {json}" or "box ← 206 video/mp2t", indented headers and documented body lines;
/// "box ⇠ {event}"; "box → WS /events?ticket=<ticket>". Anything else in a block is commentary.
QList<Step> readTranscript(const QString &markdown, QString *error)
{
    static const QRegularExpression s_fence(u"^```[^\\n]*\\n(.*?)^```"_qs,
                                            QRegularExpression::MultilineOption | QRegularExpression::DotMatchesEverythingOption);
    static const QRegularExpression s_step(u"^(box|other box|operator|anyone) +(→|←|⇠) +"_qs);
    static const QRegularExpression s_header(u"^ {4,}([A-Za-z-]+): (.*)$"_qs);
    QList<Step> steps;
    for (auto block = s_fence.globalMatch(markdown); block.hasNext();) {
        const auto b = block.next();
        const QString body = b.captured(1);
        const int firstLine = int(markdown.left(b.capturedStart(1)).count(u'\n')) + 1;
        const QStringList lines = body.split(u'\n');
        // Offsets of the lines in `body`, to read JSON that spans lines.
        QList<qsizetype> offsets;
        for (qsizetype i = 0, at = 0; i < lines.size(); at += lines[i].size() + 1, ++i)
            offsets.append(at);
        for (qsizetype i = 0; i < lines.size(); ++i) {
            const auto m = s_step.match(lines[i]);
            if (!m.hasMatch())
                continue;
            Step step;
            step.peer = m.captured(1);
            step.line = firstLine + int(i);
            const QString arrow = m.captured(2);
            const QString rest = lines[i].mid(m.capturedEnd());
            const qsizetype restAt = offsets[i] + m.capturedEnd();
            auto fail = [&](const QString &why) {
                *error = u"docs/diver-api.md line %1: %2"_qs.arg(step.line).arg(why);
                return QList<Step>{};
            };
            auto jsonFrom = [&](qsizetype at) -> std::optional<QJsonValue> {
                qsizetype end = 0;
                QString why;
                auto v = jsonAt(body, at, &end, &why);
                if (!v) {
                    fail(why);
                    return std::nullopt;
                }
                while (i + 1 < lines.size() && offsets[i + 1] < end)
                    ++i;
                return v;
            };
            if (arrow == u"⇠") {
                step.kind = Step::Event;
                const auto v = jsonFrom(restAt);
                if (!v)
                    return {};
                step.body = *v;
            } else if (arrow == u"→") {
                const QStringList words = rest.split(u' ', Qt::SkipEmptyParts);
                if (words.size() < 2)
                    return fail(u"expected METHOD /path"_qs);
                step.kind = words[0] == u"WS" ? Step::Socket : Step::Request;
                step.method = words[0].toLatin1();
                step.path = words[1];
                const qsizetype brace = rest.indexOf(u'{');
                if (brace >= 0) {
                    const auto v = jsonFrom(restAt + brace);
                    if (!v)
                        return {};
                    step.body = *v;
                } else if (step.method == "POST" || step.method == "PUT") {
                    // A body that is not JSON, as written after the path.
                    const qsizetype at = rest.indexOf(step.path) + step.path.size();
                    if (const QString raw = rest.mid(at).trimmed(); !raw.isEmpty())
                        step.body = raw;
                }
                while (i + 1 < lines.size()) {
                    const auto h = s_header.match(lines[i + 1]);
                    if (!h.hasMatch())
                        break;
                    step.headers.append({h.captured(1).toLatin1(), h.captured(2).toUtf8()});
                    ++i;
                }
            } else {
                step.kind = Step::Response;
                const qsizetype space = rest.indexOf(u' ');
                step.status = rest.left(space < 0 ? rest.size() : space).toInt();
                if (step.status < 100)
                    return fail(u"expected a status code"_qs);
                const QString after = space < 0 ? QString() : rest.mid(space + 1).trimmed();
                if (after.startsWith(u'{')) {
                    const auto v = jsonFrom(restAt + rest.indexOf(u'{'));
                    if (!v)
                        return {};
                    step.body = *v;
                    step.contentType = "application/json";
                } else {
                    step.contentType = after.toLatin1();
                    while (i + 1 < lines.size() && !lines[i + 1].trimmed().isEmpty() && !s_step.match(lines[i + 1]).hasMatch()) {
                        ++i;
                        if (const auto h = s_header.match(lines[i]); h.hasMatch())
                            step.headers.append({h.captured(1).toLatin1(), h.captured(2).toUtf8()});
                        else
                            step.textBody.append(lines[i]);
                    }
                }
            }
            steps.append(step);
        }
    }
    return steps;
}

QString compact(const QJsonValue &v)
{
    if (v.isObject())
        return QString::fromUtf8(QJsonDocument(v.toObject()).toJson(QJsonDocument::Compact));
    if (v.isArray())
        return QString::fromUtf8(QJsonDocument(v.toArray()).toJson(QJsonDocument::Compact));
    return QString::fromUtf8(QJsonDocument(QJsonArray{v}).toJson(QJsonDocument::Compact)).mid(1).chopped(1);
}

} // namespace

class TestDiverApiDoc : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        iptv::media::installFfmpegLogHandler();
        QFile file(QStringLiteral(IPTV_DIVER_API_DOC));
        QVERIFY2(file.open(QIODevice::ReadOnly), qPrintable(file.fileName()));
        m_markdown = QString::fromUtf8(file.readAll());
    }

    void readsTheTranscript()
    {
        // The reader itself, on the forms the document uses.
        const QString text = u"```\nbox → POST /api/rules {\"kind\": \"title\",\n  \"title\": \"Quiz\"}\n"
                             u"box ← 201 {\"rule\": {\"id\": 5}}\ncommentary\nbox → GET /play/1/a/seg-0.ts\n"
                             u"    Range: bytes=0-187\nbox ← 206 video/mp2t\n    Content-Range: bytes 0-187/…\n\n"
                             u"box ← 200 application/vnd.apple.mpegurl\n#EXTM3U\nseg-0.ts\nbox ⇠ {\"type\": \"gap\"}\n```\n"_qs;
        QString error;
        const QList<Step> steps = readTranscript(text, &error);
        QVERIFY2(error.isEmpty(), qPrintable(error));
        QCOMPARE(steps.size(), 6);
        QCOMPARE(steps[0].method, QByteArray("POST"));
        QCOMPARE(steps[0].body.toObject().value(u"title"_qs).toString(), u"Quiz"_qs);
        QCOMPARE(steps[1].status, 201);
        QCOMPARE(steps[1].line, 4);
        QCOMPARE(steps[2].headers.value(0).second, QByteArray("bytes=0-187"));
        QCOMPARE(steps[3].contentType, QByteArray("video/mp2t"));
        QCOMPARE(steps[3].headers.size(), 1);
        QVERIFY(steps[3].textBody.isEmpty());
        QCOMPARE(steps[4].textBody, QStringList({u"#EXTM3U"_qs, u"seg-0.ts"_qs}));
        QCOMPARE(steps[5].kind, Step::Event);
        readTranscript(u"```\nbox ← 200 {\"a\": }\n```\n"_qs, &error);
        QVERIFY2(error.contains(u"line 2"_qs), qPrintable(error));
    }

    void documentedSession()
    {
        QString error;
        const QList<Step> steps = readTranscript(m_markdown, &error);
        QVERIFY2(error.isEmpty(), qPrintable(error));
        QVERIFY2(steps.size() >= 40, qPrintable(QString::number(steps.size())));
        const QList<GuideRow> channels = tableRows(m_markdown, u"channel"_qs);
        const QList<GuideRow> airings = tableRows(m_markdown, u"on"_qs);
        QVERIFY2(channels.size() >= 3 && airings.size() >= 3, "the document's guide tables are missing");

        // A headend for the channels the document streams.
        m_recast = std::make_unique<RecastServer>(serverConfig(m_dir.filePath(u"recast"_qs), {[] {
            ChannelConfig c = tinyChannel(u"live"_qs);
            c.ladder = {{QStringLiteral("low"), 160, 90, 100}};
            return c;
        }()}));
        QVERIFY2(m_recast->start(&error), qPrintable(error));
        Client client(m_recast->port());
        QTRY_VERIFY_WITH_TIMEOUT(client.playlist(u"live"_qs, u"low"_qs).segments.size() >= 2, 30000);

        // The document's clock moved to ours by whole minutes (guide times are whole minutes), at
        // most 20 s into a minute so that what it says ends "in a minute" runs for 40 s or more.
        QTRY_VERIFY_WITH_TIMEOUT(QDateTime::currentSecsSinceEpoch() % 60 <= 20, 45000);
        m_shift = QDateTime::currentSecsSinceEpoch() / 60 * 60 - kDocNow;

        DiverConfig c;
        c.bindAddress = QHostAddress::LocalHost;
        c.port = 0;
        c.nodeId = u"dvr-1"_qs;
        c.dataDir = m_dir.filePath(u"diver"_qs);
        c.guideFile = m_dir.filePath(u"doc.guide"_qs);
        c.adminToken = QString::fromLatin1(kAdminToken);
        c.segmentSeconds = 1;
        c.minFreeBytes = 0;
        c.capacity = 3;
        c.archiveHours = 24;
        const QString keyFile = m_dir.filePath(u"tickets.pub"_qs);
        QVERIFY2(m_key.publicKey().save(keyFile, &error), qPrintable(error));
        c.ticketKeyFiles = {keyFile};
        QVERIFY2(writeGuide(c.guideFile, channels, airings, &c, &error), qPrintable(error));
        m_diver = std::make_unique<DiverServer>(c);
        QVERIFY2(m_diver->start(&error), qPrintable(error));
        m_base = u"http://127.0.0.1:%1"_qs.arg(m_diver->httpPort());
        m_tickets = {{u"box"_qs, ticket(u"STB-A"_qs)}, {u"other box"_qs, ticket(u"STB-B"_qs)}, {u"operator"_qs, kAdminToken}};

        for (qsizetype i = 0; i < steps.size(); ++i) {
            const Step &step = steps[i];
            const QString where = u"docs/diver-api.md line %1"_qs.arg(step.line);
            switch (step.kind) {
            case Step::Socket:
                QVERIFY2(openEvents(step), qPrintable(where));
                break;
            case Step::Event: {
                QString why;
                QVERIFY2(awaitEvent(step, &why), qPrintable(where + u": "_qs + why));
                break;
            }
            case Step::Request: {
                const HttpResult got = send(step);
                QVERIFY2(i + 1 < steps.size() && steps[i + 1].kind == Step::Response && steps[i + 1].peer == step.peer,
                         qPrintable(where + u": a request without its answer"_qs));
                const Step &answer = steps[++i];
                QString why;
                QVERIFY2(answers(answer, got, &why),
                         qPrintable(u"docs/diver-api.md line %1: %2 %3\n    %4\n    the server answered %5 %6"_qs.arg(answer.line)
                                        .arg(QString::fromLatin1(step.method), step.path, why)
                                        .arg(got.status)
                                        .arg(QString::fromUtf8(got.body.left(4000)))));
                break;
            }
            case Step::Response:
                QFAIL(qPrintable(where + u": an answer without its request"_qs));
            }
        }
        m_sockets.clear();
        m_diver->stop();
    }

    void cleanupTestCase()
    {
        m_sockets.clear();
        m_diver.reset();
        m_recast.reset();
    }

private:
    QByteArray ticket(const QString &serial) const
    {
        return testutil::diverTicket(m_key, serial, 3600);
    }

    /// The guide of the document's tables: channels (channel, name, stream) and airings (on,
    /// title, episode, start, stop); "archived" streams are the diver's archive.
    bool writeGuide(const QString &path, const QList<GuideRow> &channels, const QList<GuideRow> &airings, DiverConfig *config,
                    QString *error)
    {
        iptv::epg::GuideData data;
        for (const GuideRow &row : channels) {
            if (row.cells.size() < 3) {
                *error = u"docs/diver-api.md line %1: channel, name, stream"_qs.arg(row.line);
                return false;
            }
            iptv::epg::Channel ch;
            ch.id = row.cells[0];
            ch.displayNames = {{QString(), row.cells[1]}};
            const QString stream = row.cells[2];
            if (stream.startsWith(u"the headend"))
                ch.streamUrl = u"http://127.0.0.1:%1/live/live.ts"_qs.arg(m_recast->port());
            else if (stream.startsWith(u"does not answer"))
                ch.streamUrl = u"http://127.0.0.1:9/live/gone.ts"_qs; // the discard port: nothing listens
            else if (stream != u"none") {
                *error = u"docs/diver-api.md line %1: a stream is \"the headend…\", \"does not answer\" or \"none\""_qs.arg(row.line);
                return false;
            }
            if (stream.contains(u"archived"))
                config->archivedChannels.insert(ch.id);
            data.channels.append(ch);
        }
        for (const GuideRow &row : airings) {
            iptv::epg::Programme p;
            p.channelId = row.cells.value(0);
            p.titles = {{QString(), row.cells.value(1)}};
            if (const QString episode = row.cells.value(2); !episode.isEmpty() && episode != u"-")
                p.episodeNums.append({QStringLiteral("xmltv_ns"), episode});
            const QDateTime start = QDateTime::fromString(row.cells.value(3), Qt::ISODate);
            const QDateTime stop = QDateTime::fromString(row.cells.value(4), Qt::ISODate);
            if (!start.isValid() || !stop.isValid()) {
                *error = u"docs/diver-api.md line %1: start and stop as 2026-12-06T18:00:00Z"_qs.arg(row.line);
                return false;
            }
            p.start = start.toSecsSinceEpoch() + m_shift;
            p.stop = stop.toSecsSinceEpoch() + m_shift;
            data.programmes.append(p);
        }
        const qint64 from = (kDocNow + m_shift) / 3600 * 3600 - 2 * 3600;
        iptv::epg::GuideBuilder builder({.from = from, .days = 2, .compressionLevel = 1, .createdAt = from});
        builder.addGuide(data);
        QFile f(path);
        return f.open(QIODevice::WriteOnly) && f.write(builder.finish()) > 0;
    }

    /// The document's times in text (ISO 8601, "2026-12-06 19:00", chunk names, Unix seconds
    /// in paths) on our clock.
    QString shifted(QString text) const
    {
        static const QRegularExpression s_times(
            u"(\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ)|(\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d)|(\\d{8}T\\d{6}Z)|(\\b1\\d{9}\\b)"_qs);
        QString out;
        qsizetype at = 0;
        for (auto it = s_times.globalMatch(text); it.hasNext();) {
            const auto m = it.next();
            out += text.mid(at, m.capturedStart() - at);
            at = m.capturedEnd();
            static const QString formats[] = {u"yyyy-MM-dd'T'HH:mm:ss'Z'"_qs, u"yyyy-MM-dd HH:mm"_qs, u"yyyyMMdd'T'HHmmss'Z'"_qs};
            int group = 1;
            while (group < 4 && m.captured(group).isEmpty())
                ++group;
            if (group == 4) {
                const qint64 t = m.captured(4).toLongLong();
                out += std::abs(t - kDocNow) < kTimeSpan ? QString::number(t + m_shift) : m.captured(4);
                continue;
            }
            const QString format = formats[group - 1];
            QDateTime t = QDateTime::fromString(m.captured(group), format);
            t.setTimeSpec(Qt::UTC);
            out += t.addSecs(m_shift).toString(format);
        }
        return out + text.mid(at);
    }
    /// The document's text as the server would write it: times, the base URL, the tickets, and
    /// what an earlier answer bound (a segment's name in a playlist).
    QString realised(const QString &docText, const QString &peer) const
    {
        QString text = shifted(docText);
        text.replace(kDocBase, m_base);
        if (m_tickets.contains(peer))
            text.replace(u"<ticket>"_qs, QString::fromLatin1(QUrl::toPercentEncoding(QString::fromLatin1(m_tickets.value(peer)))));
        for (const auto &[doc, real] : m_bound)
            text.replace(doc, real);
        return text;
    }
    QJsonValue realised(const QJsonValue &v, const QString &peer) const
    {
        if (v.isObject()) {
            QJsonObject out;
            const QJsonObject o = v.toObject();
            for (auto it = o.begin(); it != o.end(); ++it)
                out.insert(it.key(), realised(it.value(), peer));
            return out;
        }
        if (v.isArray()) {
            QJsonArray out;
            for (const QJsonValue &item : v.toArray())
                out.append(realised(item, peer));
            return out;
        }
        if (v.isDouble() && v.toDouble() == double(v.toInteger()) && std::abs(v.toInteger() - kDocNow) < kTimeSpan)
            return v.toInteger() + m_shift;
        if (v.isString())
            return realised(v.toString(), peer);
        return v;
    }

    HttpResult send(const Step &step)
    {
        QList<std::pair<QByteArray, QByteArray>> headers;
        for (const auto &[name, value] : step.headers)
            headers.append({name, realised(QString::fromUtf8(value), step.peer).toUtf8()});
        if (m_tickets.contains(step.peer) && !step.path.contains(u"ticket=<ticket>"))
            headers.append({QByteArrayLiteral("Authorization"), "Bearer " + m_tickets.value(step.peer)});
        QByteArray body;
        if (step.body.isString())
            body = step.body.toString().toUtf8();
        else if (!step.body.isUndefined())
            body = compact(realised(step.body, step.peer)).toUtf8();
        if (!body.isEmpty())
            headers.append({QByteArrayLiteral("Content-Type"), QByteArrayLiteral("application/json")});
        return httpSend(m_nam, step.method, QUrl(m_base + realised(step.path, step.peer)), body, headers);
    }

    /// Keys whose values differ from run to run: compared by type.
    static bool varies(const QString &key)
    {
        // archiveFrom: an archive's first second, there once its first segment is written;
        // archiveTokensExpire: the moment of the answer plus the tokens' life, to the second.
        return key == u"recorders" || key == u"segments" || key == u"bytes" || key == u"checksum" || key == u"archiveFrom"
            || key == u"archiveTokensExpire";
    }

    /// A documented string against the server's: "…" stands for any text.
    static bool textMatches(const QString &documented, const QString &got)
    {
        if (!documented.contains(u'…'))
            return documented == got;
        QStringList parts = documented.split(u'…');
        for (QString &p : parts)
            p = QRegularExpression::escape(p);
        return QRegularExpression(u"\\A"_qs + parts.join(u".*"_qs) + u"\\z"_qs, QRegularExpression::DotMatchesEverythingOption)
            .match(got)
            .hasMatch();
    }

    bool conforms(const QJsonValue &doc, const QJsonValue &got, const QString &peer, const QString &key, QString *why) const
    {
        const QString at = key.isEmpty() ? u"the body"_qs : u"\""_qs + key + u'"';
        if (doc.type() != got.type()) {
            *why = u"%1 is %2 in the document, %3 from the server"_qs.arg(at, compact(doc), compact(got));
            return false;
        }
        if (varies(key))
            return true;
        if (doc.isObject()) {
            const QJsonObject d = doc.toObject(), g = got.toObject();
            for (auto it = d.begin(); it != d.end(); ++it) {
                if (!g.contains(it.key())) {
                    *why = u"no \"%1\" from the server"_qs.arg(it.key());
                    return false;
                }
                if (!conforms(it.value(), g.value(it.key()), peer, it.key(), why))
                    return false;
            }
            for (auto it = g.begin(); it != g.end(); ++it) {
                if (!d.contains(it.key())) {
                    *why = u"\"%1\": %2 from the server is not in the document"_qs.arg(it.key(), compact(it.value()));
                    return false;
                }
            }
            return true;
        }
        if (doc.isArray()) {
            const QJsonArray d = doc.toArray(), g = got.toArray();
            if (d.size() != g.size()) {
                *why = u"%1 has %2 items in the document, %3 from the server"_qs.arg(at).arg(d.size()).arg(g.size());
                return false;
            }
            for (qsizetype i = 0; i < d.size(); ++i) {
                if (!conforms(d.at(i), g.at(i), peer, key, why))
                    return false;
            }
            return true;
        }
        // The session's start stands for the moment something happened (a rule made, a
        // recording of a running airing begun): any time from then to now.
        if (doc.isDouble() && doc.toInteger() == kDocNow) {
            const qint64 t = got.toInteger();
            if (t < kDocNow + m_shift || t > QDateTime::currentSecsSinceEpoch()) {
                *why = u"%1 is %2, not between the session's start (%3) and now"_qs.arg(at).arg(t).arg(kDocNow + m_shift);
                return false;
            }
            return true;
        }
        const QJsonValue expected = realised(doc, peer);
        if (expected.isString() ? !textMatches(expected.toString(), got.toString()) : expected != got) {
            *why = u"%1 is %2 in the document, %3 from the server"_qs.arg(at, compact(expected), compact(got));
            return false;
        }
        return true;
    }

    /// A documented line of a text body as a pattern: numbers compared by type, "…" any text.
    static QRegularExpression linePattern(const QString &documented)
    {
        QString re;
        static const QRegularExpression s_pieces(u"\\d+|…"_qs);
        qsizetype at = 0;
        for (auto it = s_pieces.globalMatch(documented); it.hasNext();) {
            const auto m = it.next();
            re += QRegularExpression::escape(documented.mid(at, m.capturedStart() - at));
            re += m.captured() == u"…" ? u".*"_qs : u"\\d+"_qs;
            at = m.capturedEnd();
        }
        re += QRegularExpression::escape(documented.mid(at));
        return QRegularExpression(u"\\A"_qs + re + u"\\z"_qs);
    }

    bool answers(const Step &doc, const HttpResult &got, QString *why)
    {
        if (got.status != doc.status) {
            *why = u"the status is %1 in the document"_qs.arg(doc.status);
            return false;
        }
        const QByteArray type = got.header("Content-Type");
        if (!doc.contentType.isEmpty() && !type.startsWith(doc.contentType)) {
            *why = u"the content type is %1, the document says %2"_qs.arg(QString::fromLatin1(type), QString::fromLatin1(doc.contentType));
            return false;
        }
        for (const auto &[name, value] : doc.headers) {
            const QString real = QString::fromLatin1(got.header(name));
            if (!linePattern(realised(QString::fromUtf8(value), doc.peer)).match(real).hasMatch()) {
                *why = u"%1: %2 in the document, \"%3\" from the server"_qs.arg(QString::fromLatin1(name), QString::fromUtf8(value), real);
                return false;
            }
        }
        if (!doc.body.isUndefined()) {
            QJsonParseError pe;
            const QJsonDocument body = QJsonDocument::fromJson(got.body, &pe);
            if (pe.error != QJsonParseError::NoError) {
                *why = u"the body is not JSON: "_qs + pe.errorString();
                return false;
            }
            return conforms(doc.body, body.isObject() ? QJsonValue(body.object()) : QJsonValue(body.array()), doc.peer, {}, why);
        }
        if (doc.textBody.isEmpty()) {
            if (doc.status == 204 && !got.body.isEmpty()) {
                *why = u"a body where the document has none"_qs;
                return false;
            }
            return true;
        }
        // The documented lines, in order, among the server's (a playlist's other segments in
        // between); the first line is the first line, unless the document starts with "…".
        const QStringList lines = QString::fromUtf8(got.body).split(u'\n');
        qsizetype at = 0;
        for (qsizetype i = 0; i < doc.textBody.size(); ++i) {
            const QString &documented = doc.textBody[i];
            if (documented == u"…")
                continue;
            const QRegularExpression pattern = linePattern(realised(documented, doc.peer));
            while (at < lines.size() && !pattern.match(lines[at]).hasMatch() && (i > 0 || doc.textBody[0] == u"…"))
                ++at;
            if (at >= lines.size() || !pattern.match(lines[at]).hasMatch()) {
                *why = u"no line \"%1\"%2"_qs.arg(documented, i == 0 ? u" first"_qs : u" after the ones before"_qs);
                return false;
            }
            // A segment or image named in a body is fetched by its name later in the document.
            if (!documented.startsWith(u'#') && !documented.contains(u"-->") && documented.contains(u'/')) {
                const QString docName = documented.section(u'?', 0, 0).section(u'#', 0, 0);
                const QString realName = lines[at].section(u'?', 0, 0).section(u'#', 0, 0);
                if (shifted(docName) != realName)
                    m_bound.append({shifted(docName), realName});
            }
            ++at;
        }
        return true;
    }

    bool openEvents(const Step &step)
    {
        auto socket = std::make_unique<QWebSocket>();
        auto &queue = m_events[step.peer];
        QObject::connect(socket.get(), &QWebSocket::textMessageReceived, socket.get(), [&queue](const QString &text) {
            queue.append(QJsonDocument::fromJson(text.toUtf8()).object());
        });
        QSignalSpy connected(socket.get(), &QWebSocket::connected);
        socket->open(QUrl(u"ws://127.0.0.1:%1%2"_qs.arg(m_diver->httpPort()).arg(realised(step.path, step.peer))));
        if (!connected.wait(10000))
            return false;
        m_sockets[step.peer] = std::move(socket);
        return true;
    }

    /// The next event of the documented type (and recording, or title) on the peer's socket;
    /// other events may come in between (a plan change tells of every airing).
    bool awaitEvent(const Step &doc, QString *why)
    {
        const QJsonObject expected = doc.body.toObject();
        auto &queue = m_events[doc.peer];
        const auto sameEvent = [&](const QJsonObject &e) {
            for (const QString &key : {u"type"_qs, u"id"_qs, u"title"_qs}) {
                if (expected.contains(key) && realised(expected.value(key), doc.peer) != e.value(key))
                    return false;
            }
            return true;
        };
        QElapsedTimer waited;
        waited.start();
        for (;;) {
            for (qsizetype i = 0; i < queue.size(); ++i) {
                if (sameEvent(queue[i])) {
                    const QJsonObject got = queue.takeAt(i);
                    if (!conforms(expected, got, doc.peer, {}, why)) {
                        *why = u"the server sent "_qs + compact(got) + u"\n    "_qs + *why;
                        return false;
                    }
                    return true;
                }
            }
            QWebSocket *socket = m_sockets.count(doc.peer) ? m_sockets.at(doc.peer).get() : nullptr;
            QSignalSpy heard(socket, &QWebSocket::textMessageReceived);
            if (!socket || waited.elapsed() > 90000 || !heard.wait(int(90000 - waited.elapsed()))) {
                *why = u"no such event in 90 s; the events were: "_qs;
                for (const QJsonObject &e : std::as_const(queue))
                    *why += compact(e) + u' ';
                return false;
            }
        }
    }

    QTemporaryDir m_dir;
    QString m_markdown;
    std::unique_ptr<RecastServer> m_recast;
    std::unique_ptr<DiverServer> m_diver;
    iptv::payload::SigningKey m_key = iptv::payload::SigningKey::generate();
    QNetworkAccessManager m_nam;
    qint64 m_shift = 0;
    QString m_base;
    QHash<QString, QByteArray> m_tickets;
    QList<std::pair<QString, QString>> m_bound; ///< a name the document shows -> the server's
    std::map<QString, std::unique_ptr<QWebSocket>> m_sockets; ///< a peer's events
    std::map<QString, QList<QJsonObject>> m_events;           ///< what came on them, not yet awaited
};

QTEST_GUILESS_MAIN(TestDiverApiDoc)
#include "tst_diverapidoc.moc"
