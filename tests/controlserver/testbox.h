#pragma once

// Test helpers for controlserver: a minimal box client speaking libs/protocol over QWebSocket
// (full control over ids and frames, for the bad-input cases), a blocking HTTP client, and a
// server factory on free ports with fast password hashing. Everything waits on signals.

#include "app/controlserver.h"

#include <payload/bundle.h>
#include <protocol/message.h>

#include <QCborMap>
#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QEventLoop>
#include <QTest>
#include <QTimer>
#include <QWebSocket>

#include <memory>

namespace testutil {

using namespace iptv::protocol;
using iptv::control::ControlConfig;
using iptv::control::ControlServer;

inline const QString kAdminPassword = QStringLiteral("admin-password-1");

inline ControlConfig testConfig(const QTemporaryDir &dir)
{
    ControlConfig c;
    c.bindAddress = QHostAddress::LocalHost;
    c.boxPort = 0;
    c.httpPort = 0;
    c.operatorWsPort = 0;
    c.dataDir = dir.path();
    c.passwordOpsLimit = 1; // Argon2id at its minimum: tests log in many times
    c.passwordMemLimit = 8 * 1024 * 1024;
    c.adminPasswordFile = dir.filePath(QStringLiteral("admin-password"));
    QFile f(c.adminPasswordFile);
    if (f.open(QIODevice::WriteOnly))
        f.write(kAdminPassword.toUtf8());
    return c;
}

class TestBox : public QObject
{
    Q_OBJECT
public:
    explicit TestBox(QString serial, QObject *parent = nullptr)
        : QObject(parent), m_serial(std::move(serial)), m_secret(QByteArray(32, 's') + m_serial.toUtf8())
    {
        m_ws.setMaxAllowedIncomingMessageSize(4 << 20);
        connect(&m_ws, &QWebSocket::binaryMessageReceived, this, [this](const QByteArray &f) {
            DecodeResult d = decode(f);
            if (d.ok())
                m_inbox.append(d.message);
            Q_EMIT received();
        });
        connect(&m_ws, &QWebSocket::disconnected, this, &TestBox::closed);
    }

    bool open(quint16 port, const QString &path = QStringLiteral("/box"))
    {
        m_nextId = 1;
        m_inbox.clear();
        // Connected, or refused (disconnected without ever connecting), whichever comes first.
        QEventLoop loop;
        bool ok = false;
        connect(&m_ws, &QWebSocket::connected, &loop, [&] { ok = true; loop.quit(); });
        connect(&m_ws, &QWebSocket::disconnected, &loop, &QEventLoop::quit);
        QTimer::singleShot(10000, &loop, &QEventLoop::quit);
        m_ws.open(QUrl(QStringLiteral("ws://127.0.0.1:%1%2").arg(port).arg(path)));
        loop.exec();
        return ok;
    }
    void close()
    {
        if (m_ws.state() == QAbstractSocket::UnconnectedState)
            return;
        QSignalSpy spy(&m_ws, &QWebSocket::disconnected);
        m_ws.close();
        spy.wait(5000);
    }
    bool isOpen() const { return m_ws.state() == QAbstractSocket::ConnectedState; }

    quint64 send(MessageType type, const QCborMap &body = {}, quint64 re = 0)
    {
        const quint64 id = m_nextId++;
        m_ws.sendBinaryMessage(encode(Message(type, id, body, re)));
        return id;
    }
    /// Takes the next id for a frame the test encodes itself (sendRaw).
    quint64 nextId() { return m_nextId++; }
    /// Sends with exactly this id (0: none, as a box that numbers nothing).
    void sendWithId(MessageType type, quint64 id, const QCborMap &body = {}, quint64 re = 0)
    {
        m_ws.sendBinaryMessage(encode(Message(type, id, body, re)));
    }
    void sendRaw(const QByteArray &frame) { m_ws.sendBinaryMessage(frame); }
    /// Answers a received command as a box that ran it: ack, then the result.
    void finishCommand(const Message &command, quint64 commandId, bool ok, const QString &text)
    {
        CommandAck ack;
        ack.commandId = commandId;
        send(MessageType::Ack, ack.toBody(), command.id);
        CommandResult result;
        result.commandId = commandId;
        result.ok = ok;
        result.text = text;
        send(MessageType::Result, result.toBody());
    }
    void sendText(const QString &text) { m_ws.sendTextMessage(text); }

    Hello hello(bool withSecret, bool withToken) const
    {
        Hello h;
        h.serial = m_serial;
        h.mac = QStringLiteral("02:00:00:00:00:01");
        h.model = QStringLiteral("HX-400");
        h.softwareVersion = QStringLiteral("2.4.1");
        h.releaseChannel = QStringLiteral("clean");
        if (withSecret)
            h.secret = m_secret;
        if (withToken)
            h.token = token;
        return h;
    }
    quint64 sayHello(bool withSecret = true, bool withToken = false)
    {
        return send(MessageType::Hello, hello(withSecret, withToken).toBody());
    }

    /// The oldest received message not yet taken, if any.
    std::optional<Message> take()
    {
        if (m_inbox.isEmpty())
            return std::nullopt;
        return m_inbox.takeFirst();
    }
    /// Waits for the next message of `type` (others before it are dropped).
    std::optional<Message> waitFor(MessageType type, int timeoutMs = 10000)
    {
        QElapsedTimer t;
        t.start();
        for (;;) {
            while (!m_inbox.isEmpty()) {
                Message m = m_inbox.takeFirst();
                if (m.type == type)
                    return m;
            }
            const qint64 left = timeoutMs - t.elapsed();
            if (left <= 0)
                return std::nullopt;
            QSignalSpy spy(this, &TestBox::received);
            if (!spy.wait(int(left)))
                return std::nullopt;
        }
    }
    /// The oldest received message not yet taken, waiting up to `timeoutMs` for one.
    std::optional<Message> next(int timeoutMs = 10000)
    {
        if (m_inbox.isEmpty()) {
            QSignalSpy spy(this, &TestBox::received);
            if (!spy.wait(timeoutMs) && m_inbox.isEmpty())
                return std::nullopt;
        }
        return m_inbox.isEmpty() ? std::nullopt : std::optional<Message>(m_inbox.takeFirst());
    }
    /// Every message up to and including the next one of `type`, in order; empty on a timeout.
    QList<Message> until(MessageType type, int timeoutMs = 10000)
    {
        QList<Message> got;
        QElapsedTimer t;
        t.start();
        for (;;) {
            while (!m_inbox.isEmpty()) {
                got.append(m_inbox.takeFirst());
                if (got.last().type == type)
                    return got;
            }
            const qint64 left = timeoutMs - t.elapsed();
            QSignalSpy spy(this, &TestBox::received);
            if (left <= 0 || !spy.wait(int(left)))
                return {};
        }
    }
    std::optional<Welcome> waitWelcome(int timeoutMs = 10000)
    {
        const auto m = waitFor(MessageType::Welcome, timeoutMs);
        if (!m)
            return std::nullopt;
        QString e;
        auto w = Welcome::fromBody(m->body, &e);
        if (w && !w->token.isEmpty())
            token = w->token;
        if (w)
            boxId = w->boxId;
        return w;
    }
    std::optional<ErrorBody> waitError(int timeoutMs = 10000)
    {
        const auto m = waitFor(MessageType::Error, timeoutMs);
        if (!m)
            return std::nullopt;
        QString e;
        return ErrorBody::fromBody(m->body, &e);
    }
    bool waitClosed(int timeoutMs = 10000)
    {
        if (m_ws.state() == QAbstractSocket::UnconnectedState)
            return true;
        QSignalSpy spy(&m_ws, &QWebSocket::disconnected);
        return spy.wait(timeoutMs);
    }
    /// Enrolls (or logs in with the token when there is one) and waits for the Welcome.
    std::optional<Welcome> connectAndHello(quint16 port)
    {
        if (!open(port))
            return std::nullopt;
        sayHello(token.isEmpty(), !token.isEmpty());
        return waitWelcome();
    }

    QString serial() const { return m_serial; }
    QByteArray token;
    QString boxId;
    QWebSocket &socket() { return m_ws; }

Q_SIGNALS:
    void received();
    void closed();

private:
    QString m_serial;
    QByteArray m_secret;
    QWebSocket m_ws;
    QList<Message> m_inbox;
    quint64 m_nextId = 1;
};

/// An operator on the operator WebSocket speaking JSON text frames (answered in kind).
class OperatorClient : public QObject
{
    Q_OBJECT
public:
    explicit OperatorClient(QObject *parent = nullptr) : QObject(parent)
    {
        connect(&m_ws, &QWebSocket::textMessageReceived, this, [this](const QString &t) {
            m_inbox.append(QJsonDocument::fromJson(t.toUtf8()).object());
            Q_EMIT received();
        });
    }
    bool open(quint16 port)
    {
        m_inbox.clear();
        QSignalSpy connected(&m_ws, &QWebSocket::connected);
        m_ws.open(QUrl(QStringLiteral("ws://127.0.0.1:%1/").arg(port)));
        return connected.wait(10000);
    }
    void send(const QString &json) { m_ws.sendTextMessage(json); }
    /// Waits for the next message of `type` (and `kind`, when given); others before it are dropped.
    std::optional<QJsonObject> waitFor(const QString &type, const QString &kind = {}, int timeoutMs = 10000)
    {
        QElapsedTimer t;
        t.start();
        for (;;) {
            while (!m_inbox.isEmpty()) {
                const QJsonObject o = m_inbox.takeFirst();
                if (o.value(u"t").toString() == type && (kind.isEmpty() || o.value(u"kind").toString() == kind))
                    return o;
            }
            const qint64 left = timeoutMs - t.elapsed();
            QSignalSpy spy(this, &OperatorClient::received);
            if (left <= 0 || !spy.wait(int(left)))
                return std::nullopt;
        }
    }
    /// The oldest received message not yet taken, waiting up to `timeoutMs` for one.
    std::optional<QJsonObject> next(int timeoutMs = 10000)
    {
        if (m_inbox.isEmpty()) {
            QSignalSpy spy(this, &OperatorClient::received);
            if (!spy.wait(timeoutMs) && m_inbox.isEmpty())
                return std::nullopt;
        }
        return m_inbox.isEmpty() ? std::nullopt : std::optional<QJsonObject>(m_inbox.takeFirst());
    }
    bool waitClosed(int timeoutMs = 10000)
    {
        if (m_ws.state() == QAbstractSocket::UnconnectedState)
            return true;
        QSignalSpy spy(&m_ws, &QWebSocket::disconnected);
        return spy.wait(timeoutMs);
    }
    QWebSocket &socket() { return m_ws; }

Q_SIGNALS:
    void received();

private:
    QWebSocket m_ws;
    QList<QJsonObject> m_inbox;
};

struct Http
{
    int status = 0;
    QByteArray body;
    QByteArray contentType;
    QJsonObject json() const { return QJsonDocument::fromJson(body).object(); }
};

/// One request to the server's API on loopback, waited for (30 s at most).
inline Http request(QNetworkAccessManager &nam, const QByteArray &verb, quint16 port, const QString &path,
                    const QString &token, const QByteArray &contentType, const QByteArray &data)
{
    QNetworkRequest req(QUrl(QStringLiteral("http://127.0.0.1:%1%2").arg(port).arg(path)));
    if (!token.isEmpty())
        req.setRawHeader("Authorization", "Bearer " + token.toLatin1());
    req.setHeader(QNetworkRequest::ContentTypeHeader, contentType);
    std::unique_ptr<QNetworkReply> reply(nam.sendCustomRequest(req, verb, data));
    if (!reply->isFinished()) {
        QSignalSpy finished(reply.get(), &QNetworkReply::finished);
        finished.wait(30000);
    }
    return {reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt(), reply->readAll(),
            reply->header(QNetworkRequest::ContentTypeHeader).toByteArray()};
}

inline Http http(QNetworkAccessManager &nam, const QByteArray &verb, quint16 port, const QString &path,
                 const QString &token = {}, const QJsonObject &body = {}, bool withBody = false)
{
    const QByteArray data = withBody || !body.isEmpty() ? QJsonDocument(body).toJson(QJsonDocument::Compact) : QByteArray();
    return request(nam, verb, port, path, token, "application/json", data);
}

/// POSTs raw bytes (a release bundle upload).
inline Http postRaw(QNetworkAccessManager &nam, quint16 port, const QString &path, const QString &token, const QByteArray &body)
{
    return request(nam, "POST", port, path, token, "application/octet-stream", body);
}

/// Builds a release of the files in `src`, signed with `key`, at `path`: the bundle's bytes, or
/// empty with *error saying why.
inline QByteArray signedBundle(const QString &src, const QString &version, const QString &minBoxVersion,
                               const iptv::payload::SigningKey &key, const QString &path, QString *error)
{
    iptv::payload::BundleMeta meta;
    meta.version = version;
    meta.minBoxVersion = minBoxVersion;
    const auto built = iptv::payload::buildBundle(src, meta, key, path);
    if (!built.ok()) {
        *error = built.status.toString();
        return {};
    }
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly)) {
        *error = u"cannot read %1: %2"_qs.arg(path, file.errorString());
        return {};
    }
    return file.readAll();
}

/// Writes `text` (UTF-8) to `path`, replacing it: a config file for a test to load.
inline bool writeTextFile(const QString &path, const QString &text)
{
    QFile f(path);
    const QByteArray bytes = text.toUtf8();
    return f.open(QIODevice::WriteOnly | QIODevice::Truncate) && f.write(bytes) == bytes.size();
}

/// A payload directory holding one QML file, the smallest release there is; false when it cannot
/// be written.
inline bool minimalPayload(const QString &dir)
{
    if (!QDir().mkpath(dir))
        return false;
    QFile qml(dir + u"/Main.qml"_qs);
    return qml.open(QIODevice::WriteOnly) && qml.write("import QtQuick\nItem {}\n") > 0;
}

inline QString login(QNetworkAccessManager &nam, quint16 port, const QString &account, const QString &password)
{
    const Http r = http(nam, "POST", port, QStringLiteral("/api/login"), {},
                        {{u"account"_qs, account}, {u"password"_qs, password}});
    return r.json().value(u"token").toString();
}

} // namespace testutil
