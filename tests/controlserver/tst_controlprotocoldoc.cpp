// docs/protocol.md against the server: the document's example session is read from the markdown
// as it is written (CBOR diagnostic notation, JSON for the operator) and played against a real
// in-process controlserver. Every message the document has a peer send is sent as it stands;
// every message it has the server send must arrive with the same keys and values. Only what the
// server assigns (box ids, tokens, command ids, times, error texts) is compared by type, and the
// values the document shows for them are mapped to the real ones for the messages that follow.

#include "testbox.h"

#include "boxes/fleet.h"

#include <QCborArray>
#include <QFile>
#include <QRegularExpression>

using namespace testutil;
using namespace iptv::control;

namespace {

/// The JSON subset of CBOR diagnostic notation (RFC 8949 section 8) plus h'hex' byte strings:
/// what docs/protocol.md writes its examples in.
class DiagReader
{
public:
    DiagReader(QStringView text, qsizetype pos) : m_text(text), m_pos(pos) {}

    std::optional<QCborValue> value()
    {
        skipSpace();
        if (m_pos >= m_text.size())
            return fail(u"a value"_qs);
        const QChar c = m_text[m_pos];
        if (c == u'{')
            return map();
        if (c == u'[')
            return array();
        if (c == u'"') {
            const auto s = string();
            return s ? std::optional<QCborValue>(*s) : std::nullopt;
        }
        if (m_text.mid(m_pos).startsWith(u"h'"))
            return bytes();
        for (const auto &[word, v] : {std::pair{u"true"_qs, QCborValue(true)}, std::pair{u"false"_qs, QCborValue(false)},
                                      std::pair{u"null"_qs, QCborValue(nullptr)}}) {
            if (m_text.mid(m_pos).startsWith(word)) {
                m_pos += word.size();
                return v;
            }
        }
        if (c == u'-' || c.isDigit())
            return number();
        return fail(u"a value"_qs);
    }
    qsizetype pos() const { return m_pos; }
    QString error() const { return m_error; }

private:
    std::optional<QCborValue> fail(const QString &expected)
    {
        if (m_error.isEmpty())
            m_error = u"expected %1 at \"%2\""_qs.arg(expected, m_text.mid(m_pos, 20).toString());
        return std::nullopt;
    }
    void skipSpace()
    {
        while (m_pos < m_text.size() && m_text[m_pos].isSpace())
            ++m_pos;
    }
    bool take(QChar c)
    {
        skipSpace();
        if (m_pos < m_text.size() && m_text[m_pos] == c) {
            ++m_pos;
            return true;
        }
        return false;
    }
    std::optional<QCborValue> map()
    {
        ++m_pos;
        QCborMap m;
        if (take(u'}'))
            return m;
        do {
            skipSpace();
            const auto key = string();
            if (!key)
                return fail(u"a text key"_qs);
            if (!take(u':'))
                return fail(u"':'"_qs);
            const auto v = value();
            if (!v)
                return std::nullopt;
            m.insert(*key, *v);
        } while (take(u','));
        return take(u'}') ? std::optional<QCborValue>(m) : fail(u"'}'"_qs);
    }
    std::optional<QCborValue> array()
    {
        ++m_pos;
        QCborArray a;
        if (take(u']'))
            return a;
        do {
            const auto v = value();
            if (!v)
                return std::nullopt;
            a.append(*v);
        } while (take(u','));
        return take(u']') ? std::optional<QCborValue>(a) : fail(u"']'"_qs);
    }
    std::optional<QString> string()
    {
        if (m_pos >= m_text.size() || m_text[m_pos] != u'"')
            return std::nullopt;
        // A JSON string: let the JSON parser read the escapes.
        qsizetype end = m_pos + 1;
        while (end < m_text.size() && m_text[end] != u'"')
            end += m_text[end] == u'\\' ? 2 : 1;
        if (end >= m_text.size())
            return std::nullopt;
        const QString literal = m_text.mid(m_pos, end + 1 - m_pos).toString();
        const QJsonDocument doc = QJsonDocument::fromJson((u'[' + literal + u']').toUtf8());
        if (!doc.isArray())
            return std::nullopt;
        m_pos = end + 1;
        return doc.array().first().toString();
    }
    std::optional<QCborValue> bytes()
    {
        const qsizetype end = m_text.indexOf(u'\'', m_pos + 2);
        if (end < 0)
            return fail(u"the end of h'…'"_qs);
        const QString hex = m_text.mid(m_pos + 2, end - m_pos - 2).toString();
        if (!QRegularExpression(u"^([0-9a-fA-F]{2})*$"_qs).match(hex).hasMatch())
            return fail(u"hex digits in h'…'"_qs);
        m_pos = end + 1;
        return QCborValue(QByteArray::fromHex(hex.toLatin1()));
    }
    std::optional<QCborValue> number()
    {
        static const QRegularExpression s_number(u"-?[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?"_qs);
        const auto match = s_number.match(m_text, m_pos, QRegularExpression::NormalMatch,
                                              QRegularExpression::AnchorAtOffsetMatchOption);
        if (!match.hasMatch())
            return fail(u"a number"_qs);
        m_pos += match.capturedLength();
        bool ok = false;
        if (match.capturedLength(1) || match.capturedLength(2))
            return QCborValue(match.captured().toDouble(&ok));
        const qint64 i = match.captured().toLongLong(&ok);
        return ok ? std::optional<QCborValue>(QCborValue(i)) : fail(u"an integer within 64 bits"_qs);
    }

    QStringView m_text;
    qsizetype m_pos;
    QString m_error;
};

struct Step
{
    QString peer;          ///< "box" or "operator"
    bool toServer = false; ///< "→": the peer sends it; "←": the peer receives it from the server
    QCborMap message;
    int line = 0;          ///< in docs/protocol.md, for failure messages
};

/// The transcript lines of every fenced block of `markdown`: "box → {…}", "operator ← {…}", a
/// message possibly over several lines; anything else in a block is commentary.
QList<Step> readTranscript(const QString &markdown, QString *error)
{
    static const QRegularExpression s_fence(u"^```[^\\n]*\\n(.*?)^```"_qs,
                                            QRegularExpression::MultilineOption | QRegularExpression::DotMatchesEverythingOption);
    static const QRegularExpression s_step(u"^(box|operator) +(→|←) +(?=\\{)"_qs, QRegularExpression::MultilineOption);
    QList<Step> steps;
    for (auto block = s_fence.globalMatch(markdown); block.hasNext();) {
        const auto b = block.next();
        const qsizetype blockStart = b.capturedStart(1);
        const QStringView body = QStringView(markdown).mid(0, b.capturedEnd(1));
        for (qsizetype at = blockStart;;) {
            const auto m = s_step.match(body, at);
            if (!m.hasMatch())
                break;
            Step step;
            step.peer = m.captured(1);
            step.toServer = m.captured(2) == u"→";
            step.line = int(markdown.left(m.capturedStart()).count(u'\n')) + 1;
            DiagReader reader(body, m.capturedEnd());
            const auto v = reader.value();
            if (!v || !v->isMap()) {
                *error = u"docs/protocol.md line %1: %2"_qs.arg(step.line).arg(v ? u"not a map"_qs : reader.error());
                return {};
            }
            step.message = v->toMap();
            steps.append(step);
            at = reader.pos();
        }
    }
    return steps;
}

QString diag(const QCborValue &v)
{
    return v.toDiagnosticNotation(QCborValue::Compact);
}

} // namespace

class TestControlProtocolDoc : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init()
    {
        m_dir = std::make_unique<QTemporaryDir>();
        m_config = testConfig(*m_dir);
        m_bound.clear();
        m_lastOperatorId = 0;
    }
    void cleanup() { m_server.reset(); }

    void readsDiagnosticNotation()
    {
        // The reader itself, on the notation's corners the document uses.
        const QString text = u"box → {\"t\": \"x\", \"n\": -12, \"d\": 23.5, \"e\": 1e3, \"b\": h'00ff',\n"
                             u"  \"a\": [true, false, null], \"s\": \"q\\\"…\", \"m\": {}}\ncommentary\n"
                             u"operator ← {\"t\": \"y\"}"_qs;
        QString error;
        const QList<Step> steps = readTranscript(u"```\n"_qs + text + u"\n```\n"_qs, &error);
        QVERIFY2(error.isEmpty(), qPrintable(error));
        QCOMPARE(steps.size(), 2);
        QCOMPARE(steps[0].peer, u"box"_qs);
        QVERIFY(steps[0].toServer);
        QCOMPARE(steps[1].peer, u"operator"_qs);
        QVERIFY(!steps[1].toServer);
        QCOMPARE(steps[1].line, 5);
        const QCborMap m = steps[0].message;
        QCOMPARE(m.value(u"n"_qs), QCborValue(-12));
        QCOMPARE(m.value(u"d"_qs), QCborValue(23.5));
        QCOMPARE(m.value(u"e"_qs), QCborValue(1000.0));
        QCOMPARE(m.value(u"b"_qs), QCborValue(QByteArray("\x00\xff", 2)));
        QCOMPARE(m.value(u"a"_qs), QCborValue(QCborArray{true, false, nullptr}));
        QCOMPARE(m.value(u"s"_qs), QCborValue(u"q\"…"_qs));
        QCOMPARE(m.value(u"m"_qs), QCborValue(QCborMap()));
        readTranscript(u"```\nbox → {\"t\": h'…'}\n```\n"_qs, &error);
        QVERIFY2(error.contains(u"line 2"_qs), qPrintable(error));
    }

    void documentedSession()
    {
        QFile file(QStringLiteral(IPTV_PROTOCOL_DOC));
        QVERIFY2(file.open(QIODevice::ReadOnly), qPrintable(file.fileName()));
        QString error;
        const QList<Step> steps = readTranscript(QString::fromUtf8(file.readAll()), &error);
        QVERIFY2(error.isEmpty(), qPrintable(error));
        QVERIFY2(steps.size() >= 20, qPrintable(QString::number(steps.size())));

        m_server = std::make_unique<ControlServer>(m_config);
        QVERIFY2(m_server->start(&error), qPrintable(error));
        QNetworkAccessManager nam;
        m_operatorToken = login(nam, m_server->httpPort(), u"admin"_qs, kAdminPassword);
        QVERIFY(!m_operatorToken.isEmpty());
        TestBox box(QStringLiteral("doc-box"));
        OperatorClient op;
        QVERIFY(box.open(m_server->boxPort()));
        QVERIFY(op.open(m_server->operatorWsPort()));

        for (const Step &step : steps) {
            const QString where = u"docs/protocol.md line %1: %2 %3 %4"_qs.arg(step.line).arg(step.peer, step.toServer ? u"→"_qs : u"←"_qs,
                                                                                  diag(step.message));
            if (step.toServer) {
                const QCborMap out = sendable(step.message);
                if (step.peer == u"box")
                    box.sendRaw(QCborValue(out).toCbor());
                else
                    op.send(QString::fromUtf8(QJsonDocument(out.toJsonObject()).toJson(QJsonDocument::Compact)));
                continue;
            }
            cause(step.message);
            QCborMap got;
            if (step.peer == u"box") {
                // In order: the server says nothing to the box the document leaves out.
                const auto m = box.next();
                QVERIFY2(m, qPrintable(u"nothing came; expected "_qs + where));
                got = m->body;
                got.insert(u"t"_qs, m->name);
                if (m->id)
                    got.insert(u"id"_qs, qint64(m->id));
                if (m->replyTo)
                    got.insert(u"re"_qs, qint64(m->replyTo));
            } else {
                // Pushes the document does not wait for (summaries, presence) come in between.
                for (;;) {
                    const auto m = op.next();
                    QVERIFY2(m, qPrintable(u"nothing came; expected "_qs + where));
                    got = QCborMap::fromJsonObject(*m);
                    const auto same = [&](const QString &key) { return got.value(key) == sendable(step.message).value(key); };
                    if (same(u"t"_qs) && same(u"topic"_qs) && same(u"kind"_qs))
                        break;
                }
                // An operator's ids are not the document's (pushes in between), but they increase.
                const qint64 id = got.value(u"id"_qs).toInteger();
                QVERIFY2(id > m_lastOperatorId, qPrintable(where));
                m_lastOperatorId = id;
            }
            QString why;
            QVERIFY2(conforms(step.message, got, step.peer, QString(), &why),
                     qPrintable(where + u"\n    the server sent " + diag(got) + u"\n    " + why));
            if (step.peer == u"box" && got.contains(u"box"_qs))
                m_boxId = got.value(u"box"_qs).toString();
        }
        QVERIFY(box.isOpen());
    }

private:
    /// Keys whose values the server assigns: the document's value stands for the real one.
    static bool assigned(const QString &key)
    {
        return key == u"box" || key == u"token" || key == u"cmd" || key == u"command";
    }
    /// Keys that differ from run to run: compared by type.
    static bool varies(const QString &key, const QString &peer)
    {
        return key == u"ts" || key == u"exp" || key == u"lastSeen" || key == u"text" || key == u"retryAfter"
            || (key == u"id" && peer == u"operator");
    }

    std::optional<QCborValue> bound(const QCborValue &documented) const
    {
        for (const auto &[doc, real] : m_bound) {
            if (doc == documented)
                return real;
        }
        return std::nullopt;
    }
    /// The document's text with the values it shows for assigned ones replaced ("box:b-123").
    QString substituted(QString text) const
    {
        for (const auto &[doc, real] : m_bound) {
            if (doc.isString() && real.isString())
                text.replace(doc.toString(), real.toString());
        }
        return text;
    }
    QCborValue sendable(const QCborValue &v, const QString &key = {}) const
    {
        if (assigned(key)) {
            if (const auto real = bound(v))
                return *real;
        }
        if (v.isMap()) {
            QCborMap out;
            const QCborMap m = v.toMap();
            for (auto it = m.cbegin(); it != m.cend(); ++it)
                out.insert(it.key(), sendable(it.value(), it.key().toString()));
            return out;
        }
        if (v.isArray()) {
            QCborArray out;
            for (const QCborValue &item : v.toArray())
                out.append(sendable(item, key));
            return out;
        }
        return v.isString() ? QCborValue(substituted(v.toString())) : v;
    }
    QCborMap sendable(const QCborMap &m)
    {
        // The operator's credential comes from POST /api/login, as the document says.
        if (m.value(u"t"_qs) == QCborValue(u"hello"_qs) && m.value(u"role"_qs) == QCborValue(u"operator"_qs)
            && !bound(m.value(u"token"_qs)))
            m_bound.append({m.value(u"token"_qs), QCborValue(m_operatorToken)});
        return sendable(QCborValue(m)).toMap();
    }

    /// What the server does on an operator's behalf before the document's next server message.
    void cause(const QCborMap &expected)
    {
        const QString type = expected.value(u"t"_qs).toString();
        const auto boxId = bound(expected.value(u"box"_qs));
        const OperatorIdentity admin{u"admin"_qs, Role::Admin};
        if (type == u"welcome" && expected.value(u"state"_qs).toString() == u"approved" && boxId) {
            QVERIFY(m_server->approve(admin, parseBoxId(boxId->toString())).ok());
        } else if (type == u"command" && !bound(expected.value(u"cmd"_qs))) {
            const auto r = m_server->issueCommand(
                admin, {{u"kind"_qs, expected.value(u"name"_qs).toString()},
                        {u"args"_qs, expected.value(u"args"_qs).toMap().toJsonObject()},
                        {u"target"_qs, QJsonObject{{u"box"_qs, m_boxId}}}});
            QVERIFY2(r.ok(), qPrintable(r.message));
        }
    }

    /// The server's message against the document's: the same keys, the same values but for what
    /// the server assigns or what varies.
    bool conforms(const QCborValue &doc, const QCborValue &got, const QString &peer, const QString &key, QString *why)
    {
        const QString at = key.isEmpty() ? u"the message"_qs : u"\""_qs + key + u'"';
        if (varies(key, peer) || (assigned(key) && !bound(doc))) {
            if (doc.type() != got.type()) {
                *why = u"%1 is %2 in the document, %3 from the server"_qs.arg(at, diag(doc), diag(got));
                return false;
            }
            if (assigned(key))
                m_bound.append({doc, got});
            return true;
        }
        if (assigned(key)) {
            if (*bound(doc) != got) {
                *why = u"%1 was %2 before, now %3"_qs.arg(at, diag(*bound(doc)), diag(got));
                return false;
            }
            return true;
        }
        if (doc.isMap() && got.isMap()) {
            const QCborMap d = doc.toMap(), g = got.toMap();
            for (auto it = d.cbegin(); it != d.cend(); ++it) {
                if (!g.contains(it.key())) {
                    *why = u"no \"%1\" from the server"_qs.arg(it.key().toString());
                    return false;
                }
                if (!conforms(it.value(), g.value(it.key()), peer, it.key().toString(), why))
                    return false;
            }
            for (auto it = g.cbegin(); it != g.cend(); ++it) {
                if (!d.contains(it.key())) {
                    *why = u"\"%1\": %2 from the server is not in the document"_qs.arg(it.key().toString(), diag(it.value()));
                    return false;
                }
            }
            return true;
        }
        if (doc.isArray() && got.isArray()) {
            const QCborArray d = doc.toArray(), g = got.toArray();
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
        const QCborValue expected = doc.isString() ? QCborValue(substituted(doc.toString())) : doc;
        if (expected != got) {
            *why = u"%1 is %2 in the document, %3 from the server"_qs.arg(at, diag(expected), diag(got));
            return false;
        }
        return true;
    }

    std::unique_ptr<QTemporaryDir> m_dir;
    ControlConfig m_config;
    std::unique_ptr<ControlServer> m_server;
    QString m_operatorToken;
    QString m_boxId; ///< the box's id as the server's welcome said it
    QList<std::pair<QCborValue, QCborValue>> m_bound; ///< document value -> the server's
    qint64 m_lastOperatorId = 0;
};

QTEST_GUILESS_MAIN(TestControlProtocolDoc)
#include "tst_controlprotocoldoc.moc"
