// POST /api/login against a real in-process controlserver: the Argon2id check runs off the event
// loop (other requests are answered meanwhile), an unknown account is checked against a hash made
// with the same limits as real ones, failed logins are limited per account name and per client
// address (429 + Retry-After, growing backoff, reset by a success), a full login pool answers 503,
// refusals and failures are audited and counted in /metrics, and tokens already issued (HTTP and
// the operator WebSocket) keep working while their account is locked. New passwords (operator
// create and update) are hashed off the event loop too. Behind trusted proxies the client is read
// from X-Forwarded-For. LoginThrottle's arithmetic
// and the [login] config keys are tested on their own.

#include "testbox.h"

#include "domain/config.h"
#include "domain/credentials.h"
#include "operators/operators.h"

#include <QRegularExpression>
#include <QSemaphore>

using namespace testutil;
using namespace iptv::control;

namespace {

struct Reply
{
    int status = 0;
    QByteArray retryAfter;
    QJsonObject json;
};

/// A login sent and not waited for: the test decides what happens while it is checked.
std::unique_ptr<QNetworkReply> postLogin(QNetworkAccessManager &nam, quint16 port, const QString &account,
                                         const QString &password)
{
    QNetworkRequest req(QUrl(QStringLiteral("http://127.0.0.1:%1/api/login").arg(port)));
    req.setHeader(QNetworkRequest::ContentTypeHeader, QByteArray("application/json"));
    const QJsonObject body{{u"account"_qs, account}, {u"password"_qs, password}};
    return std::unique_ptr<QNetworkReply>(nam.post(req, QJsonDocument(body).toJson(QJsonDocument::Compact)));
}

Reply finish(QNetworkReply *reply)
{
    if (!reply->isFinished()) {
        QSignalSpy finished(reply, &QNetworkReply::finished);
        finished.wait(30000);
    }
    return {reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt(), reply->rawHeader("Retry-After"),
            QJsonDocument::fromJson(reply->readAll()).object()};
}

Reply tryLogin(QNetworkAccessManager &nam, quint16 port, const QString &account, const QString &password)
{
    auto reply = postLogin(nam, port, account, password);
    return finish(reply.get());
}

/// "m=16384,t=2,p=1" of a crypto_pwhash_str string: the work a check against it does.
QString argonParameters(const QByteArray &hash)
{
    static const QRegularExpression s_params(QStringLiteral("^\\$argon2id\\$v=\\d+\\$(m=\\d+,t=\\d+,p=\\d+)\\$"));
    return s_params.match(QString::fromLatin1(hash)).captured(1);
}

double metric(const QByteArray &text, const QByteArray &series)
{
    for (const QByteArray &line : text.split('\n')) {
        if (line.startsWith(QByteArray(series + ' ')))
            return line.mid(series.size() + 1).toDouble();
    }
    return -1;
}

/// Holds the pool's only thread until released, so a login stays "being checked".
class PoolGate
{
public:
    explicit PoolGate(QThreadPool *pool)
    {
        pool->start([this] {
            m_started.release();
            m_open.acquire();
        });
        m_started.acquire();
    }
    ~PoolGate() { open(); }
    void open()
    {
        if (!m_opened)
            m_open.release();
        m_opened = true;
    }

private:
    QSemaphore m_started;
    QSemaphore m_open;
    bool m_opened = false;
};

} // namespace

class TestControlLogin : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init()
    {
        m_dir = std::make_unique<QTemporaryDir>();
        m_config = testConfig(*m_dir);
        m_clock = 1000000;
    }
    void cleanup() { m_server.reset(); }

    void loopAnswersWhileAPasswordIsChecked()
    {
        m_config.loginVerifyThreads = 1;
        QVERIFY(start());
        PoolGate gate(m_server->operators().verifyPool());
        auto login = postLogin(m_nam, port(), u"admin"_qs, kAdminPassword);
        QTRY_COMPARE(m_server->operators().pendingLogins(), 1);

        // The check waits on the pool; the event loop does not.
        const Http health = http(m_nam, "GET", port(), u"/healthz"_qs);
        QCOMPARE(health.status, 200);
        QVERIFY(http(m_nam, "GET", port(), u"/metrics"_qs).body.contains("controlserver_login_checks_pending 1"));
        QVERIFY(!login->isFinished());

        gate.open();
        const Reply r = finish(login.get());
        QCOMPARE(r.status, 200);
        QVERIFY(!r.json.value(u"token").toString().isEmpty());
        QCOMPARE(http(m_nam, "GET", port(), u"/api/me"_qs, r.json.value(u"token").toString()).status, 200);
        QCOMPARE(m_server->operators().pendingLogins(), 0);
    }

    void clientGoneBeforeTheAnswer()
    {
        m_config.loginVerifyThreads = 1;
        QVERIFY(start());
        PoolGate gate(m_server->operators().verifyPool());
        auto login = postLogin(m_nam, port(), u"admin"_qs, kAdminPassword);
        QTRY_COMPARE(m_server->operators().pendingLogins(), 1);
        login->abort();
        login.reset();
        gate.open();
        QTRY_COMPARE(m_server->operators().pendingLogins(), 0);
        QCOMPARE(http(m_nam, "GET", port(), u"/healthz"_qs).status, 200);
        QVERIFY(!tokenFor(u"admin"_qs).isEmpty());
    }

    void unknownAccountCostsTheSame()
    {
        // Limits other than the tests' usual ones (and than any fixed dummy): the dummy follows them.
        m_config.passwordOpsLimit = 2;
        m_config.passwordMemLimit = 16 * 1024 * 1024;
        QVERIFY(start());
        OperatorDirectory &ops = m_server->operators();
        const QByteArray real = ops.verificationHash(u"admin"_qs);
        const QByteArray dummy = ops.verificationHash(u"nobody"_qs);
        QCOMPARE(argonParameters(real), u"m=16384,t=2,p=1"_qs);
        QCOMPARE(argonParameters(dummy), argonParameters(real));
        QVERIFY(dummy != real);
        QVERIFY(!verifyPassword(dummy, kAdminPassword));

        // Both denials run one check on the pool and say the same.
        const QByteArray checks = "controlserver_login_check_duration_seconds_count";
        const double before = metric(http(m_nam, "GET", port(), u"/metrics"_qs).body, checks);
        const Reply unknown = tryLogin(m_nam, port(), u"nobody"_qs, kAdminPassword);
        const Reply wrong = tryLogin(m_nam, port(), u"admin"_qs, u"not-the-password"_qs);
        QCOMPARE(unknown.status, 401);
        QCOMPARE(wrong.status, 401);
        QCOMPARE(unknown.json, wrong.json);
        QCOMPARE(metric(http(m_nam, "GET", port(), u"/metrics"_qs).body, checks), before + 2);
    }

    void accountBackoff_data()
    {
        QTest::addColumn<QString>("account");
        QTest::newRow("existing account") << u"admin"_qs;
        QTest::newRow("unknown account") << u"nobody"_qs; // locked alike: a 429 reveals nothing
    }
    void accountBackoff()
    {
        QFETCH(QString, account);
        m_config.loginAccountFailures = 3;
        m_config.loginBackoffSeconds = 2;
        m_config.loginBackoffMaxSeconds = 8;
        QVERIFY(start());
        const QString password = account == u"admin" ? kAdminPassword : u"any-password"_qs;
        for (int i = 0; i < 3; ++i)
            QCOMPARE(tryLogin(m_nam, port(), account, u"wrong"_qs).status, 401);
        // Locked, even with the right password; other accounts from here are not.
        Reply r = tryLogin(m_nam, port(), account, password);
        QCOMPARE(r.status, 429);
        QCOMPARE(r.retryAfter, "2");
        QCOMPARE(r.json.value(u"error").toString(), u"too-many-requests"_qs);
        QCOMPARE(tryLogin(m_nam, port(), u"someone-else"_qs, u"wrong"_qs).status, 401);
        m_clock += 1000;
        QCOMPARE(tryLogin(m_nam, port(), account, password).retryAfter, "1");

        // Each further failure doubles the lock, up to the cap.
        const QByteArray expected[] = {"4", "8", "8"};
        for (const QByteArray &lock : expected) {
            m_clock += 10000;
            QCOMPARE(tryLogin(m_nam, port(), account, u"wrong"_qs).status, 401);
            r = tryLogin(m_nam, port(), account, u"wrong"_qs);
            QCOMPARE(r.status, 429);
            QCOMPARE(r.retryAfter, lock);
        }
        if (account != u"admin")
            return;
        // A success clears the count: the next failure is an ordinary 401 again.
        m_clock += 8000;
        QCOMPARE(tryLogin(m_nam, port(), account, password).status, 200);
        for (int i = 0; i < 3; ++i)
            QCOMPARE(tryLogin(m_nam, port(), account, u"wrong"_qs).status, 401);
        QCOMPARE(tryLogin(m_nam, port(), account, u"wrong"_qs).status, 429);
    }

    void addressLimitAndAudit()
    {
        m_config.loginAddressFailures = 4;
        m_config.loginBackoffSeconds = 30;
        QVERIFY(start());
        const QString admin = tokenFor(u"admin"_qs);
        for (int i = 0; i < 4; ++i)
            QCOMPARE(tryLogin(m_nam, port(), QStringLiteral("guess-%1").arg(i), u"wrong"_qs).status, 401);
        // Every account from this address now waits, the admin with its right password too.
        Reply r = tryLogin(m_nam, port(), u"guess-9"_qs, u"wrong"_qs);
        QCOMPARE(r.status, 429);
        QCOMPARE(r.retryAfter, "30");
        QCOMPARE(tryLogin(m_nam, port(), u"admin"_qs, kAdminPassword).status, 429);

        const QByteArray metrics = http(m_nam, "GET", port(), u"/metrics"_qs).body;
        QCOMPARE(metric(metrics, "controlserver_login_locked{scope=\"address\"}"), 1.0);
        QCOMPARE(metric(metrics, "controlserver_login_locked{scope=\"account\"}"), 0.0);
        QCOMPARE(metric(metrics, "controlserver_login_attempts_total{outcome=\"denied\"}"), 4.0);
        QCOMPARE(metric(metrics, "controlserver_login_attempts_total{outcome=\"throttled\"}"), 2.0);
        QCOMPARE(metric(metrics, "controlserver_http_requests_total{route=\"/api/login\",status=\"429\"}"), 2.0);

        // Every failure and every refusal is in the audit log, with the client's address.
        const Http audit = http(m_nam, "GET", port(), u"/api/audit?limit=100"_qs, admin);
        QCOMPARE(audit.status, 200);
        QList<QJsonObject> logins;
        for (const QJsonValue &v : audit.json().value(u"items").toArray()) {
            if (v[u"action"].toString() == u"login")
                logins.prepend(v.toObject());
        }
        QCOMPARE(logins.size(), 7); // the admin's token, 4 failures, 2 refusals
        QCOMPARE(logins[0].value(u"outcome").toString(), u"ok"_qs);
        for (int i = 1; i <= 4; ++i) {
            QCOMPARE(logins[i].value(u"account").toString(), QStringLiteral("guess-%1").arg(i - 1));
            QCOMPARE(logins[i].value(u"outcome").toString(), u"denied"_qs);
            QVERIFY2(logins[i].value(u"detail").toString().contains(u"from 127.0.0.1"), qPrintable(logins[i].value(u"detail").toString()));
        }
        QVERIFY(logins[4].value(u"detail").toString().contains(u"4 from the address; locked for 30 s"));
        QCOMPARE(logins[5].value(u"account").toString(), u"guess-9"_qs);
        QCOMPARE(logins[5].value(u"outcome").toString(), u"refused"_qs);
        QVERIFY2(logins[5].value(u"detail").toString().contains(u"failed logins for the address, retry in 30 s"),
                 qPrintable(logins[5].value(u"detail").toString()));
        QCOMPARE(logins[6].value(u"account").toString(), u"admin"_qs);
        QCOMPARE(logins[6].value(u"outcome").toString(), u"refused"_qs);

        // The lock runs out; a success then clears the address's count.
        m_clock += 30000;
        QCOMPARE(tryLogin(m_nam, port(), u"admin"_qs, kAdminPassword).status, 200);
        QCOMPARE(m_server->operators().addressThrottle().failures(u"127.0.0.1"_qs, m_clock), 0);
    }

    void parallelGuessesCountBeforeTheyFinish()
    {
        m_config.loginAccountFailures = 3;
        m_config.loginVerifyThreads = 1;
        QVERIFY(start());
        PoolGate gate(m_server->operators().verifyPool());
        std::vector<std::unique_ptr<QNetworkReply>> guesses;
        for (int i = 0; i < 3; ++i)
            guesses.push_back(postLogin(m_nam, port(), u"admin"_qs, QStringLiteral("guess-%1").arg(i)));
        QTRY_COMPARE(m_server->operators().pendingLogins(), 3);
        // Three guesses are being checked: a fourth has to wait for their outcome.
        Reply r = tryLogin(m_nam, port(), u"admin"_qs, kAdminPassword);
        QCOMPARE(r.status, 429);
        QCOMPARE(r.retryAfter, "2");
        gate.open();
        for (auto &g : guesses)
            QCOMPARE(finish(g.get()).status, 401);
        QCOMPARE(tryLogin(m_nam, port(), u"admin"_qs, kAdminPassword).status, 429);
    }

    void fullPoolAnswers503()
    {
        m_config.loginVerifyThreads = 1;
        m_config.loginMaxPending = 2;
        QVERIFY(start());
        const QString admin = tokenFor(u"admin"_qs);
        PoolGate gate(m_server->operators().verifyPool());
        auto first = postLogin(m_nam, port(), u"admin"_qs, kAdminPassword);
        auto second = postLogin(m_nam, port(), u"someone"_qs, u"wrong"_qs);
        QTRY_COMPARE(m_server->operators().pendingLogins(), 2);
        const Reply busy = tryLogin(m_nam, port(), u"third"_qs, u"wrong"_qs);
        QCOMPARE(busy.status, 503);
        QCOMPARE(busy.retryAfter, "1");
        QCOMPARE(busy.json.value(u"error").toString(), u"busy"_qs);
        gate.open();
        QCOMPARE(finish(first.get()).status, 200);
        QCOMPARE(finish(second.get()).status, 401);
        const Http audit = http(m_nam, "GET", port(), u"/api/audit?account=third"_qs, admin);
        const QJsonObject entry = audit.json().value(u"items").toArray().first().toObject();
        QCOMPARE(entry.value(u"outcome").toString(), u"refused"_qs);
        QVERIFY(entry.value(u"detail").toString().contains(u"2 password checks pending"));
    }

    void tokensOutliveTheLock()
    {
        m_config.loginAccountFailures = 2;
        QVERIFY(start());
        const QString token = tokenFor(u"admin"_qs);
        for (int i = 0; i < 2; ++i)
            QCOMPARE(tryLogin(m_nam, port(), u"admin"_qs, u"wrong"_qs).status, 401);
        QCOMPARE(tryLogin(m_nam, port(), u"admin"_qs, kAdminPassword).status, 429);

        // The lock stops password guesses, not the sessions the operator already has.
        QCOMPARE(http(m_nam, "GET", port(), u"/api/me"_qs, token).status, 200);
        QWebSocket ws;
        QSignalSpy connected(&ws, &QWebSocket::connected);
        QSignalSpy text(&ws, &QWebSocket::textMessageReceived);
        ws.open(QUrl(QStringLiteral("ws://127.0.0.1:%1/").arg(m_server->operatorWsPort())));
        QVERIFY(connected.wait());
        ws.sendTextMessage(QStringLiteral("{\"t\":\"hello\",\"id\":1,\"v\":[1,1],\"role\":\"operator\",\"token\":\"%1\"}").arg(token));
        QVERIFY(text.wait());
        const QJsonObject welcome = QJsonDocument::fromJson(text.first().first().toString().toUtf8()).object();
        QCOMPARE(welcome.value(u"t").toString(), u"welcome"_qs);
        QCOMPARE(welcome.value(u"state").toString(), u"admin"_qs);
    }

    void disabledWhileChecked()
    {
        m_config.loginVerifyThreads = 1;
        QVERIFY(start());
        PoolGate gate(m_server->operators().verifyPool());
        auto login = postLogin(m_nam, port(), u"admin"_qs, kAdminPassword);
        QTRY_COMPARE(m_server->operators().pendingLogins(), 1);
        // No password: nothing to hash, done at once.
        bool updated = false;
        m_server->operators().update(u"admin"_qs, std::nullopt, {}, true, [&updated](const std::optional<iptv::http::ApiError> &error) { updated = !error; });
        QVERIFY(updated);
        gate.open();
        QCOMPARE(finish(login.get()).status, 401);
    }

    void newPasswordsAreHashedOffTheLoop()
    {
        m_config.loginVerifyThreads = 1;
        m_config.passwordOpsLimit = 2; // not the tests' usual limits: new hashes follow the config
        QVERIFY(start());
        const QString admin = tokenFor(u"admin"_qs);
        auto send = [this, &admin](const QByteArray &verb, const QString &path, const QJsonObject &body) {
            QNetworkRequest req(QUrl(QStringLiteral("http://127.0.0.1:%1%2").arg(port()).arg(path)));
            req.setRawHeader("Authorization", "Bearer " + admin.toLatin1());
            req.setHeader(QNetworkRequest::ContentTypeHeader, QByteArray("application/json"));
            return std::unique_ptr<QNetworkReply>(m_nam.sendCustomRequest(req, verb, QJsonDocument(body).toJson()));
        };
        {
            PoolGate gate(m_server->operators().verifyPool());
            auto create = send("POST", u"/api/operators"_qs,
                               {{u"account"_qs, u"nina"_qs}, {u"password"_qs, u"first-password"_qs}, {u"role"_qs, u"viewer"_qs}});
            QTRY_COMPARE(m_server->operators().pendingHashes(), 1);
            QCOMPARE(http(m_nam, "GET", port(), u"/healthz"_qs).status, 200);
            QVERIFY(!create->isFinished());
            gate.open();
            QCOMPARE(finish(create.get()).status, 201);
        }
        {
            PoolGate gate(m_server->operators().verifyPool());
            auto patch = send("PATCH", u"/api/operators/nina"_qs, {{u"password"_qs, u"second-password"_qs}});
            QTRY_COMPARE(m_server->operators().pendingHashes(), 1);
            QCOMPARE(http(m_nam, "GET", port(), u"/healthz"_qs).status, 200);
            QVERIFY(!patch->isFinished());
            gate.open();
            QCOMPARE(finish(patch.get()).status, 200);
        }
        QCOMPARE(tryLogin(m_nam, port(), u"nina"_qs, u"first-password"_qs).status, 401);
        QCOMPARE(tryLogin(m_nam, port(), u"nina"_qs, u"second-password"_qs).status, 200);
        QCOMPARE(argonParameters(m_server->operators().verificationHash(u"nina"_qs)), u"m=8192,t=2,p=1"_qs);
        // Refused before any hashing: answered at once, audited like before.
        QCOMPARE(finish(send("POST", u"/api/operators"_qs, {{u"account"_qs, u"nina"_qs}, {u"password"_qs, u"third-password"_qs}}).get()).status, 409);
        QCOMPARE(finish(send("PATCH", u"/api/operators/nobody"_qs, {{u"password"_qs, u"third-password"_qs}}).get()).status, 404);
        QCOMPARE(finish(send("PATCH", u"/api/operators/nina"_qs, {{u"password"_qs, u"short"_qs}}).get()).status, 400);
        QCOMPARE(m_server->operators().pendingHashes(), 0);
    }

    void throttleArithmetic()
    {
        LoginThrottle t({3, 1000, 8000, 60000});
        const QString k = u"k"_qs;
        qint64 now = 0;
        for (int i = 0; i < 2; ++i) {
            QCOMPARE(t.wait(k, now), 0);
            t.begin(k, now);
            QCOMPARE(t.finish(k, false, now), 0);
        }
        t.begin(k, now);
        QCOMPARE(t.finish(k, false, now), 1000);
        QCOMPARE(t.wait(k, now), 1000);
        QCOMPARE(t.wait(k, now + 400), 600);
        const qint64 locks[] = {2000, 4000, 8000, 8000};
        for (qint64 lock : locks) {
            now += 10000;
            QCOMPARE(t.wait(k, now), 0);
            t.begin(k, now);
            QCOMPARE(t.finish(k, false, now), lock);
        }
        QCOMPARE(t.failures(k, now), 7);
        QCOMPARE(t.lockedCount(now), 1);
        QCOMPARE(t.lockedCount(now + 8000), 0);
        // Quiet for the forget time: a fresh start.
        now += 60000;
        QCOMPARE(t.failures(k, now), 0);
        t.begin(k, now);
        QCOMPARE(t.finish(k, false, now), 0);
        QCOMPARE(t.failures(k, now), 1);
        // A success clears the key.
        t.begin(k, now);
        t.finish(k, true, now);
        QCOMPARE(t.failures(k, now), 0);
        QCOMPARE(t.size(), 0);
    }

    void addressKeys_data()
    {
        QTest::addColumn<QString>("address");
        QTest::addColumn<QString>("key");
        QTest::newRow("IPv4") << u"192.0.2.7"_qs << u"192.0.2.7"_qs;
        QTest::newRow("IPv4-mapped") << u"::ffff:192.0.2.7"_qs << u"192.0.2.7"_qs;
        QTest::newRow("IPv6 /64") << u"2001:db8:1:2:aaaa:bbbb:cccc:dddd"_qs << u"2001:db8:1:2::/64"_qs;
        QTest::newRow("IPv6 same /64") << u"2001:db8:1:2::1"_qs << u"2001:db8:1:2::/64"_qs;
    }
    void addressKeys()
    {
        QFETCH(QString, address);
        QFETCH(QString, key);
        QCOMPARE(OperatorDirectory::addressKey(QHostAddress(address)), key);
    }

    void clientAddress_data()
    {
        QTest::addColumn<QString>("peer");
        QTest::addColumn<QString>("forwardedFor"); ///< header values separated by |
        QTest::addColumn<QString>("trusted");      ///< subnets separated by space
        QTest::addColumn<QString>("client");
        const QString proxies = u"127.0.0.1 10.0.0.0/8 2001:db8::/32"_qs;
        QTest::newRow("no proxy trusted") << u"127.0.0.1"_qs << u"203.0.113.5"_qs << QString() << u"127.0.0.1"_qs;
        QTest::newRow("through a proxy") << u"127.0.0.1"_qs << u"203.0.113.5"_qs << proxies << u"203.0.113.5"_qs;
        QTest::newRow("mapped peer") << u"::ffff:127.0.0.1"_qs << u"203.0.113.5"_qs << proxies << u"203.0.113.5"_qs;
        QTest::newRow("client-written hops ignored") << u"127.0.0.1"_qs << u"198.51.100.1, 203.0.113.5"_qs << proxies << u"203.0.113.5"_qs;
        QTest::newRow("two proxies") << u"127.0.0.1"_qs << u"203.0.113.5, 10.1.2.3"_qs << proxies << u"203.0.113.5"_qs;
        QTest::newRow("two headers") << u"127.0.0.1"_qs << u"203.0.113.5|10.1.2.3"_qs << proxies << u"203.0.113.5"_qs;
        QTest::newRow("untrusted peer") << u"192.0.2.9"_qs << u"203.0.113.5"_qs << proxies << u"192.0.2.9"_qs;
        QTest::newRow("no header") << u"127.0.0.1"_qs << QString() << proxies << u"127.0.0.1"_qs;
        QTest::newRow("garbage") << u"127.0.0.1"_qs << u"not-an-address"_qs << proxies << u"127.0.0.1"_qs;
        QTest::newRow("IPv6 in brackets") << u"2001:db8::1"_qs << u"[2001:db8:ffff::7]:4711, [2a00::9]"_qs << proxies << u"2a00::9"_qs;
    }
    void clientAddress()
    {
        QFETCH(QString, peer);
        QFETCH(QString, forwardedFor);
        QFETCH(QString, trusted);
        QFETCH(QString, client);
        QList<QByteArray> headers;
        for (const QString &h : forwardedFor.split(u'|', Qt::SkipEmptyParts))
            headers.append(h.toLatin1());
        QList<QPair<QHostAddress, int>> subnets;
        for (const QString &t : trusted.split(u' ', Qt::SkipEmptyParts))
            subnets.append(QHostAddress::parseSubnet(t));
        QCOMPARE(OperatorDirectory::clientAddress(QHostAddress(peer), headers, subnets), QHostAddress(client));
    }

    void limitsTheClientBehindATrustedProxy()
    {
        m_config.loginAddressFailures = 2;
        m_config.trustedProxies = {QHostAddress::parseSubnet(u"127.0.0.1"_qs)};
        QVERIFY(start());
        const QString admin = tokenFor(u"admin"_qs);
        auto login = [this](const QString &account, const QByteArray &client) {
            QNetworkRequest req(QUrl(QStringLiteral("http://127.0.0.1:%1/api/login").arg(port())));
            req.setHeader(QNetworkRequest::ContentTypeHeader, QByteArray("application/json"));
            req.setRawHeader("X-Forwarded-For", client);
            const QJsonObject body{{u"account"_qs, account}, {u"password"_qs, u"wrong"_qs}};
            std::unique_ptr<QNetworkReply> reply(m_nam.post(req, QJsonDocument(body).toJson()));
            return finish(reply.get()).status;
        };
        QCOMPARE(login(u"a"_qs, "203.0.113.5"), 401);
        QCOMPARE(login(u"b"_qs, "203.0.113.5"), 401);
        QCOMPARE(login(u"c"_qs, "203.0.113.5"), 429);
        // Another client through the same proxy is not held up, nor is the proxy itself.
        QCOMPARE(login(u"d"_qs, "198.51.100.7"), 401);
        QCOMPARE(tryLogin(m_nam, port(), u"e"_qs, u"wrong"_qs).status, 401);
        const Http audit = http(m_nam, "GET", port(), u"/api/audit?account=c"_qs, admin);
        QVERIFY(audit.json().value(u"items").toArray().first()[u"detail"].toString().startsWith(u"from 203.0.113.5:"));
    }

    void configKeys_data()
    {
        QTest::addColumn<QString>("ini");
        QTest::addColumn<QString>("expect"); ///< account|address|backoff|max|forget|threads|pending|proxies, or the error
        QTest::newRow("defaults") << QString() << u"5|20|2|900|3600|2|32|"_qs;
        QTest::newRow("all") << u"[login]\naccount_failures=3\naddress_failures=50\nbackoff_seconds=5\n"
                                "backoff_max_seconds=600\nforget_seconds=7200\nverify_threads=4\nmax_pending=8\n"
                                "trusted_proxies=127.0.0.1, 10.0.0.0/8\n"_qs
                             << u"3|50|5|600|7200|4|8|127.0.0.1/32 10.0.0.0/8"_qs;
        QTest::newRow("zero failures") << u"[login]\naccount_failures=0\n"_qs << u"login/account_failures"_qs;
        QTest::newRow("bad proxy") << u"[login]\ntrusted_proxies=10.0.0.0/8, proxy.example\n"_qs
                                   << u"login/trusted_proxies: \"proxy.example\" is neither"_qs;
        QTest::newRow("cap below the first lock") << u"[login]\nbackoff_seconds=60\nbackoff_max_seconds=30\n"_qs
                                                  << u"login/backoff_max_seconds (30) is below login/backoff_seconds (60)"_qs;
    }
    void configKeys()
    {
        QFETCH(QString, ini);
        QFETCH(QString, expect);
        QTemporaryDir dir;
        const QString path = dir.filePath(u"controlserver.conf"_qs);
        QVERIFY(writeTextFile(path, ini));
        ControlConfig c;
        QString error;
        const bool ok = loadConfigFile(path, &c, &error);
        if (!expect.contains(u'|')) {
            QVERIFY(!ok);
            QVERIFY2(error.contains(expect), qPrintable(error));
            return;
        }
        QVERIFY2(ok, qPrintable(error));
        QStringList proxies;
        for (const auto &[address, bits] : c.trustedProxies)
            proxies.append(QStringLiteral("%1/%2").arg(address.toString()).arg(bits));
        const QString subnets = proxies.join(u' ');
        const QString got = QStringList{QString::number(c.loginAccountFailures), QString::number(c.loginAddressFailures),
                                        QString::number(c.loginBackoffSeconds), QString::number(c.loginBackoffMaxSeconds),
                                        QString::number(c.loginForgetSeconds), QString::number(c.loginVerifyThreads),
                                        QString::number(c.loginMaxPending), subnets}
                                .join(u'|');
        QCOMPARE(got, expect);
    }

    void shippedConfigHasTheDefaults()
    {
        ControlConfig shipped;
        QString error;
        QVERIFY2(loadConfigFile(QStringLiteral(IPTV_TEST_DATA "/../../resources/config/controlserver.conf"), &shipped, &error),
                 qPrintable(error));
        const ControlConfig defaults;
        QCOMPARE(shipped.loginAccountFailures, defaults.loginAccountFailures);
        QCOMPARE(shipped.loginAddressFailures, defaults.loginAddressFailures);
        QCOMPARE(shipped.loginBackoffSeconds, defaults.loginBackoffSeconds);
        QCOMPARE(shipped.loginBackoffMaxSeconds, defaults.loginBackoffMaxSeconds);
        QCOMPARE(shipped.loginForgetSeconds, defaults.loginForgetSeconds);
        QCOMPARE(shipped.loginVerifyThreads, defaults.loginVerifyThreads);
        QCOMPARE(shipped.loginMaxPending, defaults.loginMaxPending);
        QCOMPARE(shipped.trustedProxies, defaults.trustedProxies);
    }

private:
    bool start()
    {
        m_server = std::make_unique<ControlServer>(m_config);
        QString error;
        if (!m_server->start(&error)) {
            qWarning() << error;
            return false;
        }
        m_server->operators().setClock([this] { return m_clock; });
        return true;
    }
    quint16 port() const { return m_server->httpPort(); }
    QString tokenFor(const QString &account)
    {
        return tryLogin(m_nam, port(), account, kAdminPassword).json.value(u"token").toString();
    }

    std::unique_ptr<QTemporaryDir> m_dir;
    ControlConfig m_config;
    std::unique_ptr<ControlServer> m_server;
    QNetworkAccessManager m_nam;
    qint64 m_clock = 0;
};

QTEST_GUILESS_MAIN(TestControlLogin)
#include "tst_controllogin.moc"
