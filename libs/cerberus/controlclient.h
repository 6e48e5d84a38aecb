#pragma once

// The console's one connection to a controlserver: the operator HTTP JSON API (login, fleet,
// boxes, commands, releases, audit) through QNetworkAccessManager, and the operator WebSocket
// (live topic subscriptions) with reconnects. Every call reports its outcome to a callback;
// failures also go out through requestFailed() carrying the server's {code, message}, so the
// window can show them in one place.

#include "permissions.h"

#include <QJsonArray>
#include <QJsonObject>
#include <QObject>
#include <QPointer>
#include <QHash>
#include <QSet>
#include <QTimer>
#include <QUrl>
#include <QUrlQuery>

#include <functional>

QT_BEGIN_NAMESPACE
class QNetworkAccessManager;
class QNetworkReply;
class QWebSocket;
QT_END_NAMESPACE

namespace iptv::cerberus {

/// An error as the server states it ({code, message} with the HTTP status), or a transport error
/// (status 0, code "network").
struct ApiError
{
    int status = 0;
    QString code;
    QString message;
    QString toString() const;
};

struct ApiReply
{
    int status = 0;
    QByteArray body;
    QByteArray contentType;
    QJsonObject json; ///< the body when it is a JSON object
    ApiError error;   ///< set when !ok()
    bool ok() const { return status >= 200 && status < 300; }
};

using ReplyHandler = std::function<void(const ApiReply &)>;

class ControlClient : public QObject
{
    Q_OBJECT
    Q_PROPERTY(bool loggedIn READ isLoggedIn NOTIFY sessionChanged)
    Q_PROPERTY(QString account READ account NOTIFY sessionChanged)
    Q_PROPERTY(bool liveConnected READ isLiveConnected NOTIFY liveConnectedChanged)

public:
    explicit ControlClient(QObject *parent = nullptr);
    ~ControlClient() override;

    Permissions *permissions() const { return m_permissions; }
    QUrl serverUrl() const { return m_server; }
    /// The operator WebSocket; when never set, the server's host with port (HTTP port + 1).
    void setLiveUrl(const QUrl &url) { m_liveUrl = url; }
    QUrl liveUrl() const;
    QString account() const { return m_account; }
    QString token() const { return m_token; }
    bool isLoggedIn() const { return !m_token.isEmpty(); }
    bool isLiveConnected() const { return m_liveReady; }

    /// POST /api/login; loggedIn() or loginFailed() follows. On success the live connection starts.
    void login(const QUrl &server, const QString &account, const QString &password);
    /// Tells the server (best effort) and forgets the token; the live connection closes.
    void logout();

    // Generic calls; `context` (optional) cancels the callback when it is destroyed first.
    void get(const QString &path, const QUrlQuery &query, QObject *context, ReplyHandler handler);
    void post(const QString &path, const QJsonObject &body, QObject *context, ReplyHandler handler);
    void put(const QString &path, const QJsonObject &body, QObject *context, ReplyHandler handler);
    void postData(const QString &path, const QByteArray &data, const QByteArray &contentType, QObject *context,
                  ReplyHandler handler);

    // Live subscriptions: the union of every holder's topics is what the server gets.
    void addTopic(const QString &topic);
    void removeTopic(const QString &topic);
    QSet<QString> topics() const;
    /// Delay before the first reconnect attempt (doubles to 30 s, with jitter). Tests lower it.
    void setReconnectDelay(int ms) { m_reconnectBase = ms; }

    /// "b-12" or "12" -> 12; 0 when neither.
    static qint64 parseBoxId(const QJsonValue &v);
    static QString boxIdText(qint64 id) { return u"b-"_qs + QString::number(id); }

Q_SIGNALS:
    void loggedIn(const QString &account, const QString &role);
    void loginFailed(const iptv::cerberus::ApiError &error);
    void sessionChanged();
    /// The token was refused (expired, revoked): log in again.
    void sessionExpired();
    /// Any call failed; `what` names it ("GET /api/boxes").
    void requestFailed(const QString &what, const iptv::cerberus::ApiError &error);
    void liveConnectedChanged(bool connected);
    /// The live connection is (again) subscribed: state pushed while it was down was missed,
    /// so holders refresh what they show.
    void liveResynced();
    /// One pushed update of a subscribed topic (body of an "update" message).
    void liveUpdate(const QString &topic, const QJsonObject &update);

private:
    void send(const QByteArray &verb, const QString &path, const QUrlQuery &query, const QByteArray &body,
              const QByteArray &contentType, QObject *context, ReplyHandler handler);
    void finish(QNetworkReply *reply, const QString &what, QPointer<QObject> context, bool hadContext,
                const ReplyHandler &handler);
    void openLive();
    void closeLive();
    void scheduleReconnect();
    void sendLive(const QString &type, QJsonObject body);
    void sendSubscribe();
    void onLiveText(const QString &text);

    Permissions *m_permissions;
    QNetworkAccessManager *m_nam;
    QUrl m_server;
    QUrl m_liveUrl;
    QString m_account;
    QString m_token;

    QWebSocket *m_ws = nullptr;
    QHash<QString, int> m_topics; ///< topic -> holders
    QTimer m_reconnect;
    QTimer m_ping;
    int m_reconnectBase = 1000;
    int m_attempts = 0;
    quint64 m_nextId = 1;
    bool m_liveReady = false;
};

} // namespace iptv::cerberus

Q_DECLARE_METATYPE(iptv::cerberus::ApiError)
