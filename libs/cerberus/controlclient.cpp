#include "controlclient.h"

#include <protocol/message.h>

#include <QJsonDocument>
#include <QLoggingCategory>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QRandomGenerator>
#include <QWebSocket>

Q_LOGGING_CATEGORY(lcClient, "iptv.cerberus.client")

namespace iptv::cerberus {

namespace {
constexpr int TransferTimeoutMs = 60000;
constexpr int MaxReconnectMs = 30000;
constexpr int PingMs = 20000;
} // namespace

QString ApiError::toString() const
{
    if (status == 0)
        return message.isEmpty() ? code : message;
    return QStringLiteral("%1 (%2 %3)").arg(message, QString::number(status), code);
}

ControlClient::ControlClient(QObject *parent)
    : QObject(parent), m_permissions(new Permissions(this)), m_nam(new QNetworkAccessManager(this))
{
    qRegisterMetaType<ApiError>();
    m_reconnect.setSingleShot(true);
    connect(&m_reconnect, &QTimer::timeout, this, &ControlClient::openLive);
    m_ping.setInterval(PingMs);
    connect(&m_ping, &QTimer::timeout, this, [this] {
        if (m_liveReady)
            sendLive(u"ping"_qs, {});
    });
}

ControlClient::~ControlClient()
{
    closeLive();
}

QUrl ControlClient::liveUrl() const
{
    if (m_liveUrl.isValid() && !m_liveUrl.isEmpty())
        return m_liveUrl;
    QUrl u;
    u.setScheme(m_server.scheme() == u"https" ? u"wss"_qs : u"ws"_qs);
    u.setHost(m_server.host());
    u.setPort(m_server.port(8421) + 1);
    u.setPath(u"/"_qs);
    return u;
}

qint64 ControlClient::parseBoxId(const QJsonValue &v)
{
    if (v.isDouble())
        return v.toInteger();
    QStringView t = QStringView(v.toString());
    if (t.startsWith(u"b-"))
        t = t.mid(2);
    bool ok = false;
    const qint64 id = t.toLongLong(&ok);
    return ok && id > 0 ? id : 0;
}

// ---- HTTP

void ControlClient::login(const QUrl &server, const QString &account, const QString &password)
{
    closeLive();
    m_server = server;
    m_token.clear();
    m_account.clear();
    m_permissions->setRole({});
    const QJsonObject body{{u"account"_qs, account}, {u"password"_qs, password}};
    send("POST", u"/api/login"_qs, {}, QJsonDocument(body).toJson(QJsonDocument::Compact), "application/json", this,
         [this, account](const ApiReply &r) {
             if (!r.ok()) {
                 Q_EMIT loginFailed(r.error);
                 return;
             }
             m_token = r.json.value(u"token").toString();
             m_account = r.json.value(u"account").toString(account);
             if (m_token.isEmpty()) {
                 Q_EMIT loginFailed({r.status, u"bad-reply"_qs, u"the server answered the login without a token"_qs});
                 return;
             }
             const QString role = r.json.value(u"role").toString();
             m_permissions->setRole(role);
             qCInfo(lcClient).noquote() << "logged in to" << m_server.toString() << "as" << m_account << role;
             Q_EMIT sessionChanged();
             Q_EMIT loggedIn(m_account, role);
             m_attempts = 0;
             openLive();
         });
}

void ControlClient::logout()
{
    if (!m_token.isEmpty())
        post(u"/api/logout"_qs, {}, nullptr, [](const ApiReply &) {});
    closeLive();
    m_token.clear();
    m_account.clear();
    m_permissions->setRole({});
    Q_EMIT sessionChanged();
}

void ControlClient::get(const QString &path, const QUrlQuery &query, QObject *context, ReplyHandler handler)
{
    send("GET", path, query, {}, {}, context, std::move(handler));
}

void ControlClient::post(const QString &path, const QJsonObject &body, QObject *context, ReplyHandler handler)
{
    send("POST", path, {}, QJsonDocument(body).toJson(QJsonDocument::Compact), "application/json", context, std::move(handler));
}

void ControlClient::put(const QString &path, const QJsonObject &body, QObject *context, ReplyHandler handler)
{
    send("PUT", path, {}, QJsonDocument(body).toJson(QJsonDocument::Compact), "application/json", context, std::move(handler));
}

void ControlClient::postData(const QString &path, const QByteArray &data, const QByteArray &contentType, QObject *context,
                             ReplyHandler handler)
{
    send("POST", path, {}, data, contentType, context, std::move(handler));
}

void ControlClient::send(const QByteArray &verb, const QString &path, const QUrlQuery &query, const QByteArray &body,
                         const QByteArray &contentType, QObject *context, ReplyHandler handler)
{
    QUrl url = m_server;
    url.setPath(path);
    url.setQuery(query);
    QNetworkRequest req(url);
    req.setTransferTimeout(TransferTimeoutMs);
    req.setRawHeader("Accept", "application/json");
    if (!m_token.isEmpty())
        req.setRawHeader("Authorization", "Bearer " + m_token.toLatin1());
    if (!contentType.isEmpty())
        req.setHeader(QNetworkRequest::ContentTypeHeader, contentType);
    QNetworkReply *reply = nullptr;
    if (verb == "GET")
        reply = m_nam->get(req);
    else if (verb == "POST")
        reply = m_nam->post(req, body);
    else if (verb == "PUT")
        reply = m_nam->put(req, body);
    else
        reply = m_nam->sendCustomRequest(req, verb, body);
    const QString what = QString::fromLatin1(verb) + u' ' + path;
    QPointer<QObject> ctx(context);
    const bool hadContext = context != nullptr;
    connect(reply, &QNetworkReply::finished, this, [this, reply, what, ctx, hadContext, handler = std::move(handler)] {
        finish(reply, what, ctx, hadContext, handler);
    });
}

void ControlClient::finish(QNetworkReply *reply, const QString &what, QPointer<QObject> context, bool hadContext,
                           const ReplyHandler &handler)
{
    reply->deleteLater();
    ApiReply r;
    r.status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    r.body = reply->readAll();
    r.contentType = reply->header(QNetworkRequest::ContentTypeHeader).toByteArray();
    if (r.contentType.startsWith("application/json")) {
        QJsonParseError pe;
        const QJsonDocument doc = QJsonDocument::fromJson(r.body, &pe);
        if (pe.error == QJsonParseError::NoError && doc.isObject())
            r.json = doc.object();
    }
    if (r.status == 0) {
        r.error = {0, u"network"_qs,
                   QStringLiteral("%1: %2").arg(m_server.toString(QUrl::RemoveUserInfo), reply->errorString())};
    } else if (!r.ok()) {
        r.error = {r.status, r.json.value(u"error").toString(u"http-error"_qs),
                   r.json.value(u"detail").toString(reply->errorString())};
    }
    if (!r.ok()) {
        qCInfo(lcClient).noquote() << what << "failed:" << r.error.toString();
        Q_EMIT requestFailed(what, r.error);
        if (r.status == 401 && !m_token.isEmpty() && !what.endsWith(u"/api/login")) {
            closeLive();
            m_token.clear();
            m_permissions->setRole({});
            Q_EMIT sessionChanged();
            Q_EMIT sessionExpired();
        }
    }
    if (hadContext && !context)
        return;
    if (handler)
        handler(r);
}

// ---- live WebSocket

QSet<QString> ControlClient::topics() const
{
    QSet<QString> s;
    for (auto it = m_topics.cbegin(); it != m_topics.cend(); ++it)
        s.insert(it.key());
    return s;
}

void ControlClient::addTopic(const QString &topic)
{
    if (++m_topics[topic] == 1)
        sendSubscribe();
}

void ControlClient::removeTopic(const QString &topic)
{
    auto it = m_topics.find(topic);
    if (it == m_topics.end())
        return;
    if (--it.value() <= 0) {
        m_topics.erase(it);
        sendSubscribe();
    }
}

void ControlClient::openLive()
{
    if (m_token.isEmpty())
        return;
    if (m_ws) {
        m_ws->disconnect(this);
        m_ws->abort();
        m_ws->deleteLater();
    }
    m_ws = new QWebSocket(QString(), QWebSocketProtocol::VersionLatest, this);
    m_ws->setMaxAllowedIncomingMessageSize(64 * 1024 * 1024);
    m_ws->setMaxAllowedIncomingFrameSize(64 * 1024 * 1024);
    m_nextId = 1;
    QWebSocket *ws = m_ws;
    connect(ws, &QWebSocket::connected, this, [this] {
        QJsonObject hello{{u"v"_qs, QJsonArray{iptv::protocol::kMinProtocolVersion, iptv::protocol::kProtocolVersion}},
                          {u"role"_qs, u"operator"_qs},
                          {u"account"_qs, m_account},
                          {u"token"_qs, m_token}};
        sendLive(u"hello"_qs, hello);
    });
    connect(ws, &QWebSocket::textMessageReceived, this, &ControlClient::onLiveText);
    connect(ws, &QWebSocket::disconnected, this, [this, ws] {
        if (ws != m_ws)
            return;
        qCInfo(lcClient).noquote() << "live connection closed:" << ws->closeReason();
        const bool was = m_liveReady;
        m_liveReady = false;
        m_ping.stop();
        if (was)
            Q_EMIT liveConnectedChanged(false);
        scheduleReconnect();
    });
    ws->open(liveUrl());
}

void ControlClient::closeLive()
{
    m_reconnect.stop();
    m_ping.stop();
    if (m_ws) {
        m_ws->disconnect(this);
        m_ws->close();
        m_ws->deleteLater();
        m_ws = nullptr;
    }
    if (m_liveReady) {
        m_liveReady = false;
        Q_EMIT liveConnectedChanged(false);
    }
}

void ControlClient::scheduleReconnect()
{
    if (m_token.isEmpty())
        return;
    // Full jitter so that many consoles do not come back in step after a server restart.
    const int cap = int(std::min<qint64>(MaxReconnectMs, qint64(m_reconnectBase) << std::min(m_attempts, 5)));
    ++m_attempts;
    m_reconnect.start(cap / 2 + int(QRandomGenerator::global()->bounded(cap / 2 + 1)));
}

void ControlClient::sendLive(const QString &type, QJsonObject body)
{
    if (!m_ws || m_ws->state() != QAbstractSocket::ConnectedState)
        return;
    body.insert(u"t"_qs, type);
    body.insert(u"id"_qs, qint64(m_nextId++));
    m_ws->sendTextMessage(QString::fromUtf8(QJsonDocument(body).toJson(QJsonDocument::Compact)));
}

void ControlClient::sendSubscribe()
{
    if (!m_liveReady)
        return; // sent once the hello is through
    QJsonArray list;
    for (auto it = m_topics.cbegin(); it != m_topics.cend(); ++it)
        list.append(it.key());
    sendLive(u"subscribe"_qs, {{u"topics"_qs, list}});
}

void ControlClient::onLiveText(const QString &text)
{
    using namespace iptv::protocol;
    iptv::protocol::DecodeLimits limits;
    limits.maxFrameBytes = 64 * 1024 * 1024;
    limits.maxItems = 1 << 20;
    limits.maxStringBytes = 64 * 1024 * 1024;
    const QByteArray utf8 = text.toUtf8();
    const DecodeResult d = decodeJson(utf8, limits);
    if (!d.ok()) {
        qCWarning(lcClient).noquote() << "live: undecodable frame:" << d.errorText;
        return;
    }
    const Message &m = d.message;
    switch (m.type) {
    case MessageType::Welcome:
        m_liveReady = true;
        m_attempts = 0;
        m_ping.start();
        Q_EMIT liveConnectedChanged(true);
        sendSubscribe();
        Q_EMIT liveResynced();
        return;
    case MessageType::Update: {
        const QJsonObject u = m.body.toJsonObject();
        Q_EMIT liveUpdate(u.value(u"topic").toString(), u);
        return;
    }
    case MessageType::Error: {
        QString e;
        const auto body = ErrorBody::fromBody(m.body, &e);
        const ApiError err{0, body ? errorCodeName(body->code) : u"error"_qs, body ? body->text : e};
        qCWarning(lcClient).noquote() << "live:" << err.code << err.message;
        Q_EMIT requestFailed(u"live"_qs, err);
        if (body && body->code == ErrorCode::Unauthorized && !m_token.isEmpty()) {
            closeLive();
            m_token.clear();
            m_permissions->setRole({});
            Q_EMIT sessionChanged();
            Q_EMIT sessionExpired();
        }
        return;
    }
    default:
        return; // acks, pongs
    }
}

} // namespace iptv::cerberus
