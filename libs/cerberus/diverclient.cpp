#include "diverclient.h"

#include <QJsonDocument>
#include <QLoggingCategory>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QPointer>
#include <QRandomGenerator>
#include <QUrlQuery>
#include <QWebSocket>

Q_LOGGING_CATEGORY(lcDiverClient, "iptv.cerberus.diver")

namespace iptv::cerberus {

namespace {
constexpr int TransferTimeoutMs = 60000;
constexpr int MaxReconnectMs = 30000;
} // namespace

DiverClient::DiverClient(QObject *parent)
    : QObject(parent), m_nam(new QNetworkAccessManager(this))
{
    qRegisterMetaType<ApiError>();
    m_reconnect.setSingleShot(true);
    connect(&m_reconnect, &QTimer::timeout, this, &DiverClient::connectEvents);
}

DiverClient::~DiverClient()
{
    closeEvents();
}

void DiverClient::setServer(const QUrl &url, const QString &token)
{
    const bool events = m_wantEvents;
    closeEvents();
    m_server = url;
    m_token = token;
    if (events)
        openEvents();
}

void DiverClient::call(const QByteArray &verb, const QString &path, const QJsonObject &body, QObject *context,
                       ReplyHandler handler, bool parseJson)
{
    const QString what = QString::fromLatin1(verb) + u' ' + path;
    if (!isConfigured()) {
        ApiReply r;
        r.error = {0, u"not-configured"_qs, tr("no diver is set (--diver URL, or the sign-in dialog)")};
        if (handler)
            handler(r);
        return;
    }
    QUrl url = m_server;
    const qsizetype q = path.indexOf(u'?');
    url.setPath(q < 0 ? path : path.left(q));
    if (q >= 0)
        url.setQuery(path.mid(q + 1));
    QNetworkRequest req(url);
    req.setTransferTimeout(TransferTimeoutMs);
    req.setRawHeader("Accept", "application/json");
    if (!m_token.isEmpty())
        req.setRawHeader("Authorization", "Bearer " + m_token.toUtf8());
    QByteArray data;
    if (verb == "POST" || verb == "PUT") {
        req.setHeader(QNetworkRequest::ContentTypeHeader, QByteArrayLiteral("application/json"));
        data = QJsonDocument(body).toJson(QJsonDocument::Compact);
    }
    QNetworkReply *reply = verb == "GET" ? m_nam->get(req) : m_nam->sendCustomRequest(req, verb, data);
    QPointer<QObject> ctx(context);
    const bool hadContext = context != nullptr;
    connect(reply, &QNetworkReply::finished, this, [this, reply, what, ctx, hadContext, parseJson, handler = std::move(handler)] {
        reply->deleteLater();
        ApiReply r;
        r.status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
        r.body = reply->readAll();
        r.contentType = reply->header(QNetworkRequest::ContentTypeHeader).toByteArray();
        const bool ok = r.ok();
        if (r.contentType.startsWith("application/json") && (parseJson || !ok)) {
            QJsonParseError pe;
            const QJsonDocument doc = QJsonDocument::fromJson(r.body, &pe);
            if (pe.error == QJsonParseError::NoError && doc.isObject())
                r.json = doc.object();
        }
        if (r.status == 0) {
            r.error = {0, u"network"_qs, QStringLiteral("%1: %2").arg(m_server.toString(QUrl::RemoveUserInfo), reply->errorString())};
        } else if (!ok) {
            r.error = {r.status, r.json.value(u"error").toString(u"http-error"_qs), r.json.value(u"detail").toString(reply->errorString())};
        }
        if (!ok) {
            qCInfo(lcDiverClient).noquote() << what << "failed:" << r.error.toString();
            Q_EMIT requestFailed(what, r.error);
        }
        if (hadContext && !ctx)
            return;
        if (handler)
            handler(r);
    });
}

void DiverClient::openEvents()
{
    m_wantEvents = true;
    m_attempts = 0;
    connectEvents();
}

void DiverClient::closeEvents()
{
    m_wantEvents = false;
    m_reconnect.stop();
    if (m_ws) {
        m_ws->disconnect(this);
        m_ws->abort();
        m_ws->deleteLater();
        m_ws = nullptr;
    }
    if (m_eventsReady) {
        m_eventsReady = false;
        Q_EMIT eventsConnectedChanged(false);
    }
}

void DiverClient::connectEvents()
{
    if (!m_wantEvents || !isConfigured())
        return;
    if (m_ws) {
        m_ws->disconnect(this);
        m_ws->abort();
        m_ws->deleteLater();
    }
    m_ws = new QWebSocket(QString(), QWebSocketProtocol::VersionLatest, this);
    QWebSocket *ws = m_ws;
    QUrl url = m_server;
    url.setScheme(m_server.scheme() == u"https" ? u"wss"_qs : u"ws"_qs);
    url.setPath(u"/events"_qs);
    if (!m_token.isEmpty()) {
        QUrlQuery q;
        q.addQueryItem(u"token"_qs, QString::fromUtf8(QUrl::toPercentEncoding(m_token)));
        url.setQuery(q);
    }
    connect(ws, &QWebSocket::textMessageReceived, this, [this](const QString &text) {
        const QJsonObject event = QJsonDocument::fromJson(text.toUtf8()).object();
        if (event.value(u"type").toString() == u"hello") {
            m_attempts = 0;
            m_eventsReady = true;
            Q_EMIT eventsConnectedChanged(true);
            return;
        }
        if (!event.isEmpty())
            Q_EMIT eventReceived(event);
    });
    connect(ws, &QWebSocket::disconnected, this, [this, ws] {
        if (ws != m_ws)
            return;
        if (ws->closeCode() == QWebSocketProtocol::CloseCodePolicyViolated)
            Q_EMIT eventsRefused(ws->closeReason());
        qCInfo(lcDiverClient).noquote() << "diver events closed:" << ws->closeCode() << ws->closeReason() << ws->errorString();
        if (m_eventsReady) {
            m_eventsReady = false;
            Q_EMIT eventsConnectedChanged(false);
        }
        scheduleReconnect();
    });
    ws->open(url);
}

void DiverClient::scheduleReconnect()
{
    if (!m_wantEvents || m_reconnect.isActive())
        return;
    const int base = std::min(MaxReconnectMs, m_reconnectBase << std::min(m_attempts, 5));
    ++m_attempts;
    m_reconnect.start(base / 2 + int(QRandomGenerator::global()->bounded(base / 2 + 1)));
}

} // namespace iptv::cerberus
