#pragma once

// The controlserver program for the Hubris tests that need a real control server: started on
// free ports with auto-approve, signed in as admin, spoken to over its HTTP API.

#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QProcess>
#include <QSignalSpy>
#include <QTcpServer>
#include <QTest>

class ControlServerProcess
{
public:
    static QString binary() { return QStringLiteral(IPTV_BINARY_DIR "/server/controlserver/controlserver"); }

    ~ControlServerProcess()
    {
        if (m_process.state() == QProcess::Running) {
            m_process.terminate();
            m_process.waitForFinished(10000);
        }
    }

    /// Starts it with its data in `dataDir` (and `extraArgs`), waits for /healthz and signs in.
    bool start(const QString &dataDir, const QStringList &extraArgs = {})
    {
        // Ports found free are only free until someone binds them (the test beside this one
        // under ctest -j2, an outgoing connection): a server that could not listen exits at once
        // (its reason on stderr), and is started again on other ports.
        bool up = false;
        for (int attempt = 1; attempt <= 3 && !up; ++attempt) {
            if (!startOnFreePorts(dataDir, extraArgs))
                return false;
            for (QDeadlineTimer deadline(20000); !deadline.hasExpired(); QTest::qWait(100)) {
                if (m_process.state() != QProcess::Running)
                    break;
                if (request("GET", QStringLiteral("/healthz")).first == 200) {
                    up = true;
                    break;
                }
            }
            if (!up && m_process.state() == QProcess::Running)
                return false; // running, but never healthy: no port problem
            if (!up)
                qWarning("controlserver exited at its start (code %d): again on other ports", m_process.exitCode());
        }
        if (!up)
            return false;
        m_token = json("POST", QStringLiteral("/api/login"),
                       {{QStringLiteral("account"), QStringLiteral("admin")}, {QStringLiteral("password"), password()}})
                      .value(QStringLiteral("token")).toString().toUtf8();
        return !m_token.isEmpty();
    }

    /// Ends it (a lost server).
    void stop()
    {
        m_process.terminate();
        m_process.waitForFinished(10000);
    }

    QUrl boxUrl() const { return QUrl(QStringLiteral("ws://127.0.0.1:%1/box").arg(m_boxPort)); }
    /// The HTTP API (GET /api/ticket-key for servers that check boxes' tickets).
    QUrl httpUrl() const { return QUrl(QStringLiteral("http://127.0.0.1:%1").arg(m_httpPort)); }

    /// An API request as the admin: status and body.
    QPair<int, QByteArray> request(const QByteArray &method, const QString &path, const QByteArray &body = {},
                                   const QByteArray &type = "application/json")
    {
        QNetworkRequest r(QUrl(QStringLiteral("http://127.0.0.1:%1%2").arg(m_httpPort).arg(path)));
        r.setRawHeader("Content-Type", type);
        if (!m_token.isEmpty())
            r.setRawHeader("Authorization", "Bearer " + m_token);
        QNetworkReply *reply = m_nam.sendCustomRequest(r, method, body);
        QSignalSpy done(reply, &QNetworkReply::finished);
        done.wait(20000);
        reply->deleteLater();
        return {reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt(), reply->readAll()};
    }
    QJsonObject json(const QByteArray &method, const QString &path, const QJsonObject &body = {})
    {
        return QJsonDocument::fromJson(request(method, path, body.isEmpty() ? QByteArray() : QJsonDocument(body).toJson()).second)
            .object();
    }

private:
    bool startOnFreePorts(const QString &dataDir, const QStringList &extraArgs)
    {
        m_boxPort = freePort();
        m_httpPort = freePort();
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QStringLiteral("IPTV_CONTROL_ADMIN_PASSWORD"), password());
        m_process.setProcessEnvironment(env);
        m_process.setProcessChannelMode(QProcess::ForwardedErrorChannel);
        m_process.start(binary(), QStringList{QStringLiteral("--bind"), QStringLiteral("127.0.0.1"), QStringLiteral("--box-port"),
                                              QString::number(m_boxPort), QStringLiteral("--http-port"), QString::number(m_httpPort),
                                              QStringLiteral("--operator-ws-port"), QString::number(freePort()),
                                              QStringLiteral("--data-dir"), dataDir, QStringLiteral("--auto-approve")}
                                      + extraArgs);
        return m_process.waitForStarted(10000);
    }
    static QString password() { return QStringLiteral("hubris-test-admin-password"); }
    static quint16 freePort()
    {
        QTcpServer s;
        s.listen(QHostAddress::LocalHost, 0);
        return s.serverPort();
    }

    QProcess m_process;
    quint16 m_boxPort = 0, m_httpPort = 0;
    QNetworkAccessManager m_nam;
    QByteArray m_token;
};
