// The operator HTTP API and the operator WebSocket against a real in-process controlserver:
// login, 401/403 with {code, message}, roles (viewer cannot command or approve), every action in
// the audit log (refusals included), fleet list filters and paging, summary, box detail,
// telemetry history, approve via HTTP, tags, release channel, commands, operators (admin), and
// live updates over WebSocket (JSON text frames, answered in kind).

#include "testbox.h"
#include "../common/promtool.h"

#include "boxes/fleet.h"
#include "operators/operatorhub.h"

using namespace testutil;
using namespace iptv::control;

class TestControlHttp : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init()
    {
        m_dir = std::make_unique<QTemporaryDir>();
        m_config = testConfig(*m_dir);
        m_config.telemetryHistorySeconds = 0; // keep every sample
        m_server = std::make_unique<ControlServer>(m_config);
        QString error;
        QVERIFY2(m_server->start(&error), qPrintable(error));
        m_admin = login(m_nam, port(), u"admin"_qs, kAdminPassword);
        QVERIFY(!m_admin.isEmpty());
    }
    void cleanup() { m_server.reset(); }

    void authErrors()
    {
        Http r = http(m_nam, "GET", port(), u"/api/boxes"_qs);
        QCOMPARE(r.status, 401);
        QCOMPARE(r.json().value(u"error").toString(), u"unauthorized"_qs);
        QVERIFY(!r.json().value(u"detail").toString().isEmpty());
        r = http(m_nam, "GET", port(), u"/api/boxes"_qs, u"not-a-token"_qs);
        QCOMPARE(r.status, 401);
        r = http(m_nam, "POST", port(), u"/api/login"_qs, {}, {{u"account"_qs, u"admin"_qs}, {u"password"_qs, u"wrong"_qs}});
        QCOMPARE(r.status, 401);
        r = http(m_nam, "POST", port(), u"/api/login"_qs, {}, {}, true);
        QCOMPARE(r.status, 401);
        QNetworkRequest req(QUrl(QStringLiteral("http://127.0.0.1:%1/api/login").arg(port())));
        std::unique_ptr<QNetworkReply> reply(m_nam.post(req, QByteArray("{not json")));
        QSignalSpy done(reply.get(), &QNetworkReply::finished);
        QVERIFY(done.wait());
        QCOMPARE(reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt(), 400);
        r = http(m_nam, "GET", port(), u"/api/nothing"_qs, m_admin);
        QCOMPARE(r.status, 404);
        r = http(m_nam, "DELETE", port(), u"/api/boxes"_qs, m_admin);
        QCOMPARE(r.status, 405);
        QCOMPARE(http(m_nam, "GET", port(), u"/healthz"_qs).status, 200);
        const QByteArray metrics = http(m_nam, "GET", port(), u"/metrics"_qs).body;
        QVERIFY(metrics.contains("controlserver_boxes_online"));
        if (const auto problems = promtoolProblems(metrics)) // Prometheus's own check, where installed
            QVERIFY2(problems->isEmpty(), qPrintable(*problems));
        // Logout revokes the token.
        const QString t = login(m_nam, port(), u"admin"_qs, kAdminPassword);
        QCOMPARE(http(m_nam, "POST", port(), u"/api/logout"_qs, t, {}, true).status, 200);
        QCOMPARE(http(m_nam, "GET", port(), u"/api/me"_qs, t).status, 401);
    }

    void rolesAndAudit()
    {
        Http r = http(m_nam, "POST", port(), u"/api/operators"_qs, m_admin,
                      {{u"account"_qs, u"vera"_qs}, {u"password"_qs, u"viewer-pass"_qs}, {u"role"_qs, u"viewer"_qs}});
        QCOMPARE(r.status, 201);
        r = http(m_nam, "POST", port(), u"/api/operators"_qs, m_admin,
                 {{u"account"_qs, u"otto"_qs}, {u"password"_qs, u"operator-pass"_qs}, {u"role"_qs, u"operator"_qs}});
        QCOMPARE(r.status, 201);
        r = http(m_nam, "POST", port(), u"/api/operators"_qs, m_admin,
                 {{u"account"_qs, u"otto"_qs}, {u"password"_qs, u"operator-pass"_qs}, {u"role"_qs, u"operator"_qs}});
        QCOMPARE(r.status, 409);
        const QString viewer = login(m_nam, port(), u"vera"_qs, u"viewer-pass"_qs);
        const QString op = login(m_nam, port(), u"otto"_qs, u"operator-pass"_qs);
        QVERIFY(!viewer.isEmpty() && !op.isEmpty());

        TestBox box(QStringLiteral("H-1"));
        QVERIFY(box.connectAndHello(m_server->boxPort()));
        const QString approvePath = QStringLiteral("/api/boxes/%1/approve").arg(box.boxId);

        // The viewer reads but cannot approve or command: 403 and an audit entry.
        QCOMPARE(http(m_nam, "GET", port(), u"/api/boxes"_qs, viewer).status, 200);
        r = http(m_nam, "POST", port(), approvePath, viewer, {}, true);
        QCOMPARE(r.status, 403);
        QCOMPARE(r.json().value(u"error").toString(), u"forbidden"_qs);
        r = http(m_nam, "POST", port(), u"/api/commands"_qs, viewer,
                 {{u"kind"_qs, u"reboot"_qs}, {u"target"_qs, QJsonObject{{u"all"_qs, true}}}});
        QCOMPARE(r.status, 403);
        QCOMPARE(http(m_nam, "GET", port(), u"/api/operators"_qs, op).status, 403);

        // The operator approves (the box gets its token live) and commands.
        r = http(m_nam, "POST", port(), approvePath, op, {}, true);
        QCOMPARE(r.status, 200);
        QCOMPARE(r.json().value(u"box").toObject().value(u"state").toString(), u"approved"_qs);
        const auto w = box.waitWelcome();
        QVERIFY(w && w->state == u"approved");
        r = http(m_nam, "POST", port(), u"/api/commands"_qs, op,
                 {{u"kind"_qs, u"collect-logs"_qs}, {u"args"_qs, QJsonObject{{u"lines"_qs, 100}}},
                  {u"target"_qs, QJsonObject{{u"box"_qs, box.boxId}}}, {u"expiresIn"_qs, 600}});
        QCOMPARE(r.status, 201);
        QCOMPARE(r.json().value(u"count").toInt(), 1);
        QVERIFY(box.waitFor(MessageType::Command));
        const qint64 batch = r.json().value(u"batch").toInteger();
        r = http(m_nam, "GET", port(), QStringLiteral("/api/commands?batch=%1").arg(batch), viewer);
        QCOMPARE(r.status, 200);
        QCOMPARE(r.json().value(u"items").toArray().size(), 1);
        QCOMPARE(r.json().value(u"states").toObject().value(u"delivered").toInt(), 1);

        // Audit: logins, the refusals, the approval, the command; the viewer may read it.
        r = http(m_nam, "GET", port(), u"/api/audit?limit=100"_qs, viewer);
        QCOMPARE(r.status, 200);
        const QJsonArray items = r.json().value(u"items").toArray();
        auto has = [&items](const QString &account, const QString &action, const QString &outcome) {
            return std::any_of(items.begin(), items.end(), [&](const QJsonValue &v) {
                const QJsonObject o = v.toObject();
                return o.value(u"account").toString() == account && o.value(u"action").toString().contains(action)
                    && o.value(u"outcome").toString() == outcome;
            });
        };
        QVERIFY(has(u"vera"_qs, u"login"_qs, u"ok"_qs));
        QVERIFY(has(u"vera"_qs, u"/api/boxes/<id>/approve"_qs, u"denied"_qs));
        QVERIFY(has(u"vera"_qs, u"/api/commands"_qs, u"denied"_qs));
        QVERIFY(has(u"otto"_qs, u"box.approve"_qs, u"ok"_qs));
        QVERIFY(has(u"otto"_qs, u"command.issue"_qs, u"ok"_qs));
        QVERIFY(has(u"admin"_qs, u"operator.create"_qs, u"ok"_qs));
        QVERIFY(has(u"admin"_qs, u"operator.create"_qs, u"failed"_qs));

        // Disabling an account revokes its tokens.
        r = http(m_nam, "PATCH", port(), u"/api/operators/otto"_qs, m_admin, {{u"disabled"_qs, true}});
        QCOMPARE(r.status, 200);
        QCOMPARE(http(m_nam, "GET", port(), u"/api/me"_qs, op).status, 401);
        QVERIFY(login(m_nam, port(), u"otto"_qs, u"operator-pass"_qs).isEmpty());
    }

    // Errors are {"error","detail"}, their status from the error's type (not from its text).
    void operatorErrorsAreTyped_data()
    {
        QTest::addColumn<QByteArray>("verb");
        QTest::addColumn<QString>("path");
        QTest::addColumn<QJsonObject>("body");
        QTest::addColumn<int>("status");
        QTest::addColumn<QString>("error");
        const QString pw = u"long-enough"_qs;
        QTest::newRow("exists") << QByteArray("POST") << u"/api/operators"_qs
                                << QJsonObject{{u"account"_qs, u"admin"_qs}, {u"password"_qs, pw}} << 409 << u"conflict"_qs;
        QTest::newRow("short password") << QByteArray("POST") << u"/api/operators"_qs
                                        << QJsonObject{{u"account"_qs, u"exists"_qs}, {u"password"_qs, u"short"_qs}} << 400
                                        << u"bad-request"_qs;
        QTest::newRow("bad name") << QByteArray("POST") << u"/api/operators"_qs
                                  << QJsonObject{{u"account"_qs, u"no spaces"_qs}, {u"password"_qs, pw}} << 400
                                  << u"bad-request"_qs;
        QTest::newRow("bad role") << QByteArray("POST") << u"/api/operators"_qs
                                  << QJsonObject{{u"account"_qs, u"rolf"_qs}, {u"password"_qs, pw}, {u"role"_qs, u"king"_qs}}
                                  << 400 << u"bad-request"_qs;
        QTest::newRow("no account") << QByteArray("PATCH") << u"/api/operators/nobody"_qs
                                    << QJsonObject{{u"disabled"_qs, true}} << 404 << u"not-found"_qs;
        QTest::newRow("wrong method") << QByteArray("DELETE") << u"/api/me"_qs << QJsonObject() << 405
                                      << u"method-not-allowed"_qs;
        QTest::newRow("unmatched") << QByteArray("GET") << u"/api/nothing"_qs << QJsonObject() << 404 << u"not-found"_qs;
    }
    void operatorErrorsAreTyped()
    {
        QFETCH(QByteArray, verb);
        QFETCH(QString, path);
        QFETCH(QJsonObject, body);
        QFETCH(int, status);
        QFETCH(QString, error);
        const Http r = http(m_nam, verb, port(), path, m_admin, body, true);
        QCOMPARE(r.status, status);
        QCOMPARE(r.json().value(u"error").toString(), error);
        QVERIFY2(!r.json().value(u"detail").toString().isEmpty(), r.body.constData());
        QVERIFY(!r.json().contains(u"code"));
    }

    void fleetListDetailAndHistory()
    {
        restartAutoApproving();
        if (QTest::currentTestFailed())
            return;

        QList<std::shared_ptr<TestBox>> boxes;
        for (int i = 0; i < 5; ++i) {
            auto b = std::make_shared<TestBox>(QStringLiteral("F-%1").arg(i));
            QVERIFY(b->connectAndHello(m_server->boxPort()));
            Telemetry t;
            t.softwareVersion = i < 3 ? u"2.4.1"_qs : u"2.5.0"_qs;
            t.currentChannel = i % 2 ? u"bbc-one"_qs : u"rte-one"_qs;
            t.playerState = u"playing"_qs;
            t.errorEvents = i == 4 ? 2 : 0;
            t.cpuPercent = 10 + i;
            b->send(MessageType::Telemetry, t.toBody());
            QVERIFY(b->waitFor(MessageType::Ack));
            boxes.append(b);
        }
        boxes[4]->close();
        QTRY_COMPARE(m_server->fleet().onlineCount(), 4);
        const QString id1 = boxes[1]->boxId;
        QCOMPARE(http(m_nam, "PUT", port(), QStringLiteral("/api/boxes/%1/tags").arg(id1), m_admin,
                      {{u"tags"_qs, QJsonArray{u"lab"_qs}}}).status, 200);
        QCOMPARE(http(m_nam, "PUT", port(), QStringLiteral("/api/boxes/%1/channel").arg(id1), m_admin,
                      {{u"channel"_qs, u"experimental"_qs}}).status, 200);
        QCOMPARE(http(m_nam, "PUT", port(), QStringLiteral("/api/boxes/%1/channel").arg(id1), m_admin,
                      {{u"channel"_qs, u"beta"_qs}}).status, 400);

        auto total = [this](const QString &query) {
            const Http r = http(m_nam, "GET", port(), u"/api/boxes?"_qs + query, m_admin);
            return r.status == 200 ? r.json().value(u"total").toInt() : -r.status;
        };
        QCOMPARE(total({}), 5);
        QCOMPARE(total(u"version=2.5.0"_qs), 2);
        QCOMPARE(total(u"current=bbc-one"_qs), 2);
        QCOMPARE(total(u"online=true"_qs), 4);
        QCOMPARE(total(u"online=false"_qs), 1);
        QCOMPARE(total(u"tag=lab"_qs), 1);
        QCOMPARE(total(u"channel=experimental"_qs), 1);
        QCOMPARE(total(u"model=HX-400&version=2.4.1"_qs), 3);
        QCOMPARE(total(u"q=F-3"_qs), 1);
        QCOMPARE(total(u"channel=beta"_qs), -400);
        QCOMPARE(total(u"limit=0"_qs), -400);
        Http r = http(m_nam, "GET", port(), u"/api/boxes?offset=2&limit=2"_qs, m_admin);
        QCOMPARE(r.json().value(u"items").toArray().size(), 2);
        QCOMPARE(r.json().value(u"items").toArray().first().toObject().value(u"serial").toString(), u"F-2"_qs);

        r = http(m_nam, "GET", port(), u"/api/fleet/summary"_qs, m_admin);
        QCOMPARE(r.status, 200);
        const QJsonObject s = r.json();
        QCOMPARE(s.value(u"online").toInt(), 4);
        QCOMPARE(s.value(u"boxes").toInt(), 5);
        QCOMPARE(s.value(u"versions").toObject().value(u"clean").toObject().value(u"2.4.1").toInt(), 2);
        QCOMPARE(s.value(u"versions").toObject().value(u"experimental").toObject().value(u"2.4.1").toInt(), 1);

        r = http(m_nam, "GET", port(), QStringLiteral("/api/boxes/%1").arg(id1), m_admin);
        QCOMPARE(r.status, 200);
        QCOMPARE(r.json().value(u"latestTelemetry").toObject().value(u"ch").toString(), u"bbc-one"_qs);
        QCOMPARE(http(m_nam, "GET", port(), u"/api/boxes/b-999"_qs, m_admin).status, 404);

        boxes[1]->send(MessageType::Telemetry, Telemetry{}.toBody());
        QVERIFY(boxes[1]->waitFor(MessageType::Ack));
        BoxEvent ev;
        ev.kind = u"error"_qs;
        ev.severity = u"error"_qs;
        ev.text = u"decoder stalled"_qs;
        boxes[1]->send(MessageType::Event, ev.toBody());
        QVERIFY(boxes[1]->waitFor(MessageType::Ack));
        r = http(m_nam, "GET", port(), QStringLiteral("/api/boxes/%1/telemetry").arg(id1), m_admin);
        QCOMPARE(r.json().value(u"samples").toArray().size(), 2);
        r = http(m_nam, "GET", port(), QStringLiteral("/api/boxes/%1/events").arg(id1), m_admin);
        QCOMPARE(r.json().value(u"events").toArray().first().toObject().value(u"text").toString(), u"decoder stalled"_qs);
    }

    // A polling console: each GET sees the telemetry, event and command state the box sent just
    // before (still queued), and the polls do not flush the store (one flush each, before).
    void readsSeeQueuedRowsWithoutFlushing()
    {
        restartAutoApproving();
        if (QTest::currentTestFailed())
            return;
        TestBox box(u"Q-1"_qs);
        QVERIFY(box.connectAndHello(m_server->boxPort()));
        const auto flushes = [this] {
            const QByteArray series = "controlserver_store_flushes_total ";
            for (const QByteArray &line : http(m_nam, "GET", port(), u"/metrics"_qs).body.split('\n')) {
                if (line.startsWith(series))
                    return line.mid(series.size()).toInt();
            }
            return -1;
        };
        const int before = flushes();
        QVERIFY(before >= 0);

        constexpr int kPolls = 12;
        const QString base = u"/api/boxes/"_qs + box.boxId;
        for (int i = 0; i < kPolls; ++i) {
            Telemetry t;
            t.cpuPercent = i;
            t.currentChannel = QStringLiteral("ch-%1").arg(i);
            box.send(MessageType::Telemetry, t.toBody());
            QVERIFY(box.waitFor(MessageType::Ack));
            BoxEvent ev;
            ev.kind = u"error"_qs;
            ev.text = QStringLiteral("event %1").arg(i);
            box.send(MessageType::Event, ev.toBody());
            QVERIFY(box.waitFor(MessageType::Ack));

            Http r = http(m_nam, "GET", port(), base + u"/telemetry"_qs, m_admin);
            QCOMPARE(r.json().value(u"samples").toArray().size(), i + 1);
            QCOMPARE(r.json().value(u"samples").toArray().first().toObject().value(u"telemetry").toObject()
                         .value(u"cpu").toDouble(), double(i));
            r = http(m_nam, "GET", port(), base + u"/events"_qs, m_admin);
            QCOMPARE(r.json().value(u"events").toArray().first().toObject().value(u"text").toString(),
                     QStringLiteral("event %1").arg(i));
            r = http(m_nam, "GET", port(), base, m_admin);
            QCOMPARE(r.json().value(u"latestTelemetry").toObject().value(u"ch").toString(), QStringLiteral("ch-%1").arg(i));
        }

        Http r = http(m_nam, "POST", port(), u"/api/commands"_qs, m_admin,
                      {{u"kind"_qs, u"screenshot"_qs}, {u"target"_qs, QJsonObject{{u"box"_qs, box.boxId}}}});
        QCOMPARE(r.status, 201);
        const qint64 id = r.json().value(u"commands").toArray().first().toInteger();
        const auto m = box.waitFor(MessageType::Command);
        QVERIFY(m);
        CommandResult res;
        res.commandId = quint64(id);
        res.ok = true;
        res.text = u"shot"_qs;
        res.data = "PNG...";
        res.mimeType = u"image/png"_qs;
        box.send(MessageType::Result, res.toBody());
        QVERIFY(box.waitFor(MessageType::Ack));
        r = http(m_nam, "GET", port(), QStringLiteral("/api/commands/%1").arg(id), m_admin);
        QCOMPARE(r.json().value(u"state").toString(), u"succeeded"_qs);
        r = http(m_nam, "GET", port(), QStringLiteral("/api/commands/%1/data").arg(id), m_admin);
        QCOMPARE(r.body, QByteArray("PNG..."));
        r = http(m_nam, "GET", port(), QStringLiteral("/api/commands?state=succeeded&box=%1").arg(box.boxId), m_admin);
        QCOMPARE(r.json().value(u"items").toArray().size(), 1);

        // The timer may flush once or twice meanwhile; the polls (3 per round + 3) do not.
        const int during = flushes() - before;
        qDebug() << during << "flushes for" << 3 * kPolls + 3 << "GETs";
        QVERIFY2(during <= 3, qPrintable(QStringLiteral("%1 flushes for %2 GETs").arg(during).arg(3 * kPolls + 3)));
    }

    void operatorWebSocket()
    {
        QWebSocket ws;
        QSignalSpy connected(&ws, &QWebSocket::connected);
        QList<QJsonObject> inbox;
        connect(&ws, &QWebSocket::textMessageReceived, this,
                [&inbox](const QString &t) { inbox.append(QJsonDocument::fromJson(t.toUtf8()).object()); });
        auto waitFor = [&inbox, &ws](const QString &type, const QString &kind = {}) -> std::optional<QJsonObject> {
            for (int turn = 0; turn < 100; ++turn) {
                for (qsizetype i = 0; i < inbox.size(); ++i) {
                    const QJsonObject o = inbox.at(i);
                    if (o.value(u"t").toString() == type && (kind.isEmpty() || o.value(u"kind").toString() == kind)) {
                        inbox.remove(0, i + 1);
                        return o;
                    }
                }
                QSignalSpy more(&ws, &QWebSocket::textMessageReceived);
                if (!more.wait(5000))
                    return std::nullopt;
            }
            return std::nullopt;
        };
        ws.open(QUrl(QStringLiteral("ws://127.0.0.1:%1/").arg(m_server->operatorWsPort())));
        QVERIFY(connected.wait());

        // Without a valid token: unauthorized, closed.
        QSignalSpy closed(&ws, &QWebSocket::disconnected);
        ws.sendTextMessage(u"{\"t\":\"hello\",\"id\":1,\"v\":[1,1],\"role\":\"operator\",\"token\":\"AAAA\"}"_qs);
        auto m = waitFor(u"error"_qs);
        QVERIFY(m);
        QCOMPARE(m->value(u"code").toString(), u"unauthorized"_qs);
        QVERIFY(closed.count() || closed.wait());

        inbox.clear();
        ws.open(QUrl(QStringLiteral("ws://127.0.0.1:%1/").arg(m_server->operatorWsPort())));
        QVERIFY(connected.wait());
        ws.sendTextMessage(QStringLiteral("{\"t\":\"hello\",\"id\":1,\"v\":[1,1],\"role\":\"operator\",\"token\":\"%1\"}").arg(m_admin));
        m = waitFor(u"welcome"_qs);
        QVERIFY(m);
        QCOMPARE(m->value(u"state").toString(), u"admin"_qs);
        ws.sendTextMessage(u"{\"t\":\"subscribe\",\"id\":2,\"topics\":[\"fleet\",\"commands\",\"box:1\"]}"_qs);
        m = waitFor(u"ack"_qs);
        QVERIFY(m);
        QCOMPARE(m->value(u"re").toInteger(), 2);
        QVERIFY(waitFor(u"update"_qs, u"summary"_qs));
        ws.sendTextMessage(u"{\"t\":\"subscribe\",\"id\":3,\"topics\":[\"nonsense\"]}"_qs);
        m = waitFor(u"error"_qs);
        QVERIFY(m && m->value(u"code").toString() == u"bad-request");
        ws.sendTextMessage(u"{\"t\":\"subscribe\",\"id\":3,\"topics\":[]}"_qs);
        m = waitFor(u"error"_qs);
        QVERIFY(m && m->value(u"code").toString() == u"replay");

        // A box comes online (presence, coalesced), reports telemetry (box:b-1), gets a command.
        TestBox box(QStringLiteral("W-1"));
        QVERIFY(box.connectAndHello(m_server->boxPort()));
        QCOMPARE(box.boxId, u"b-1"_qs);
        m = waitFor(u"update"_qs, u"presence"_qs);
        QVERIFY(m);
        QCOMPARE(m->value(u"online").toArray().first().toString(), u"b-1"_qs);
        QVERIFY(m_server->approve(OperatorIdentity{u"admin"_qs, Role::Admin}, 1).ok());
        QVERIFY(box.waitWelcome());
        Telemetry t;
        t.cpuPercent = 42;
        t.currentChannel = u"news-1"_qs;
        box.send(MessageType::Telemetry, t.toBody());
        m = waitFor(u"update"_qs, u"telemetry"_qs);
        QVERIFY(m);
        QCOMPARE(m->value(u"topic").toString(), u"box:b-1"_qs);
        QCOMPARE(m->value(u"telemetry").toObject().value(u"cpu").toDouble(), 42.0);
        // The telemetry changed what a fleet table shows (the channel watched): within a tick
        // "fleet" gets the box's record, in the shape of GET /api/boxes items.
        std::optional<QJsonObject> record;
        for (int pushes = 0; pushes < 5 && !record; ++pushes) {
            m = waitFor(u"update"_qs, u"boxes"_qs);
            QVERIFY(m);
            QCOMPARE(m->value(u"topic").toString(), u"fleet"_qs);
            for (const QJsonValue &v : m->value(u"items").toArray()) {
                if (v[u"id"].toInteger() == 1 && v[u"currentChannel"].toString() == u"news-1")
                    record = v.toObject();
            }
        }
        QVERIFY(record);
        QCOMPARE(record->value(u"online").toBool(), true);
        QCOMPARE(record->value(u"state").toString(), u"approved"_qs);
        QCOMPARE(record->value(u"telemetry").toObject().value(u"cpuPercent").toDouble(), 42.0);
        QVERIFY(m_server->issueCommand(OperatorIdentity{u"admin"_qs, Role::Admin},
                                       {{u"kind"_qs, u"reboot"_qs}, {u"target"_qs, QJsonObject{{u"box"_qs, 1}}}}).ok());
        m = waitFor(u"update"_qs, u"command"_qs);
        QVERIFY(m);
        QCOMPARE(m->value(u"state").toString(), u"delivered"_qs);
        QCOMPARE(m_server->operatorHub()->sessionCount(), 1);
    }

    void operatorMessagesWithoutIds()
    {
        // As for boxes: an id of 0, or none, is not replay-checked; ids that are there increase.
        OperatorClient op;
        QVERIFY(op.open(m_server->operatorWsPort()));
        op.send(QStringLiteral("{\"t\":\"hello\",\"v\":[1,2],\"role\":\"operator\",\"token\":\"%1\"}").arg(m_admin));
        auto m = op.next();
        QVERIFY(m);
        QCOMPARE(m->value(u"t").toString(), u"welcome"_qs);
        QVERIFY(!m->contains(u"re"));
        op.send(u"{\"t\":\"ping\",\"id\":0}"_qs);
        op.send(u"{\"t\":\"subscribe\",\"topics\":[\"rollouts\",\"commands\"]}"_qs);
        op.send(u"{\"t\":\"ping\",\"id\":2}"_qs);
        op.send(u"{\"t\":\"ping\",\"id\":2}"_qs);
        op.send(u"{\"t\":\"ping\"}"_qs);
        QStringList got;
        for (int i = 0; i < 5; ++i) {
            m = op.next();
            QVERIFY2(m, qPrintable(got.join(u", ")));
            got.append(m->value(u"t").toString() + u' ' + QString::number(m->value(u"re").toInteger())
                       + u' ' + m->value(u"code").toString());
        }
        QCOMPARE(got, (QStringList{u"pong 0 "_qs, u"ack 0 "_qs, u"pong 2 "_qs, u"error 2 replay"_qs, u"pong 0 "_qs}));
    }

    void operatorCloseCodes()
    {
        // docs/protocol.md, "Closing": an error before the hello closes with 1008 and its text,
        // a stopping server with 1001.
        OperatorClient early;
        QVERIFY(early.open(m_server->operatorWsPort()));
        early.send(u"{\"t\":\"subscribe\",\"id\":1,\"topics\":[\"fleet\"]}"_qs);
        QVERIFY(early.waitFor(u"error"_qs));
        QVERIFY(early.waitClosed());
        QCOMPARE(early.socket().closeCode(), QWebSocketProtocol::CloseCodePolicyViolated);
        QCOMPARE(early.socket().closeReason(), u"say hello with a token first"_qs);

        OperatorClient op;
        QVERIFY(op.open(m_server->operatorWsPort()));
        op.send(QStringLiteral("{\"t\":\"hello\",\"id\":1,\"v\":[1,2],\"role\":\"operator\",\"token\":\"%1\"}").arg(m_admin));
        QVERIFY(op.waitFor(u"welcome"_qs));
        m_server->stop();
        QVERIFY(op.waitClosed());
        QCOMPARE(op.socket().closeCode(), QWebSocketProtocol::CloseCodeGoingAway);
    }

private:
    quint16 port() const { return m_server->httpPort(); }
    /// The server again with boxes approved on their first hello, and the admin signed in anew.
    void restartAutoApproving()
    {
        m_server->stop();
        m_server.reset();
        m_config.autoApprove = true;
        m_server = std::make_unique<ControlServer>(m_config);
        QString error;
        QVERIFY2(m_server->start(&error), qPrintable(error));
        m_admin = login(m_nam, port(), u"admin"_qs, kAdminPassword);
    }

    std::unique_ptr<QTemporaryDir> m_dir;
    ControlConfig m_config;
    std::unique_ptr<ControlServer> m_server;
    QNetworkAccessManager m_nam;
    QString m_admin;
};

QTEST_GUILESS_MAIN(TestControlHttp)
#include "tst_controlhttp.moc"
