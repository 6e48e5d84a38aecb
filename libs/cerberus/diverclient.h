#pragma once

// The console's connection to diver, the network DVR (docs/diver-api.md): its HTTP JSON API as
// the operator (diver's `[server] admin_token` as a Bearer token, or nothing from the same machine
// when diver has no token) and its event stream (`/events`, every box's recording events), with
// reconnects. Independent of the control server: diver keeps no accounts.

#include "controlclient.h"

#include <QObject>
#include <QTimer>
#include <QUrl>

#include <functional>

QT_BEGIN_NAMESPACE
class QNetworkAccessManager;
class QWebSocket;
QT_END_NAMESPACE

namespace iptv::cerberus {

class DiverClient : public QObject
{
    Q_OBJECT
    Q_PROPERTY(bool eventsConnected READ isEventsConnected NOTIFY eventsConnectedChanged)

public:
    explicit DiverClient(QObject *parent = nullptr);
    ~DiverClient() override;

    /// diver's base URL ("http://dvr:8430"); an empty URL means "no diver": nothing is asked.
    void setServer(const QUrl &url, const QString &token = {});
    QUrl serverUrl() const { return m_server; }
    bool isConfigured() const { return m_server.isValid() && !m_server.host().isEmpty(); }
    bool isEventsConnected() const { return m_eventsReady; }
    /// Delay before the first reconnect of the event stream (doubles to 30 s). Tests lower it.
    void setReconnectDelay(int ms) { m_reconnectBase = ms; }

    /// A JSON call; `context` (optional) cancels the callback when it is destroyed first. diver's
    /// errors ({"error", "detail"}) arrive as ApiError{status, error, detail}.
    /// `parseJson` false leaves ApiReply::json empty on success (a large body parsed off the UI thread).
    void call(const QByteArray &verb, const QString &path, const QJsonObject &body, QObject *context, ReplyHandler handler,
              bool parseJson = true);
    void get(const QString &path, QObject *context, ReplyHandler handler) { call("GET", path, {}, context, std::move(handler)); }

    /// Opens the event stream (and keeps it open) until closeEvents() or setServer().
    void openEvents();
    void closeEvents();

Q_SIGNALS:
    /// Any call failed; `what` names it ("DELETE /api/recordings/7").
    void requestFailed(const QString &what, const iptv::cerberus::ApiError &error);
    /// One event from /events (`type`: started, finished, gap, failed, deleted, scheduled, ...).
    void eventReceived(const QJsonObject &event);
    void eventsConnectedChanged(bool connected);
    /// diver closed the event stream for a reason (a wrong token): shown, and retried later.
    void eventsRefused(const QString &reason);

private:
    void connectEvents();
    void scheduleReconnect();

    QNetworkAccessManager *m_nam;
    QUrl m_server;
    QString m_token;
    QWebSocket *m_ws = nullptr;
    QTimer m_reconnect;
    int m_reconnectBase = 1000;
    int m_attempts = 0;
    bool m_wantEvents = false;
    bool m_eventsReady = false;
};

} // namespace iptv::cerberus
