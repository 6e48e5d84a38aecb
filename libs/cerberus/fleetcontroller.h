#pragma once

// Keeps a FleetModel in step with the server: the first load in pages of 1000 boxes (each page
// its own turn of the event loop), live presence from the "fleet" topic, telemetry of boxes
// whose topic is subscribed, changed box records pushed on "fleet" (kind "boxes": versions,
// channels, coarse health of all boxes), and a slow background sweep through the pages (one page
// every few seconds, ten times slower once the server is seen to push box records) for what is
// not pushed (exact health figures). Every refresh goes through the model's cell-exact updates,
// so a sweep of unchanged boxes costs no repaint.

#include "controlclient.h"
#include "fleetmodel.h"

#include <QElapsedTimer>
#include <QObject>
#include <QTimer>

namespace iptv::cerberus {

class FleetController : public QObject
{
    Q_OBJECT
    Q_PROPERTY(bool loading READ isLoading NOTIFY loadingChanged)
    Q_PROPERTY(int total READ total NOTIFY progress)

public:
    FleetController(ControlClient *client, FleetModel *model, QObject *parent = nullptr);
    ~FleetController() override;

    /// Clears the model and loads the whole fleet; subscribes to "fleet".
    void start();
    void stop();
    bool isLoading() const { return m_loading; }
    int total() const { return m_total; }
    FleetModel *model() const { return m_model; }
    /// Interval of the background sweep (one page per tick); 0 stops it. Ten times this while
    /// the server pushes changed box records.
    void setSweepInterval(int ms);
    /// The sweep's interval now (0 = stopped).
    int sweepInterval() const { return m_sweep.isActive() ? m_sweep.interval() : 0; }
    /// True once the server said it pushes changed box records (kind "boxes" on "fleet").
    bool serverPushesBoxes() const { return m_serverPushesBoxes; }
    void setPageSize(int n) { m_pageSize = n; }

Q_SIGNALS:
    void loadingChanged();
    void progress(int loaded, int total);
    /// The first full load is complete.
    void loaded();
    /// The latest fleet summary from the server (GET /api/fleet/summary or a "fleet" push).
    void summaryReceived(const QJsonObject &summary);
    /// Box ids that went offline in one coalesced push (for alerts).
    void boxesWentOffline(const QList<qint64> &ids, int count);

private:
    void fetchPage(int offset, bool initial);
    void onUpdate(const QString &topic, const QJsonObject &update);
    void applySweepInterval();

    ControlClient *m_client;
    FleetModel *m_model;
    QTimer m_sweep;
    QElapsedTimer m_loadClock;
    int m_pageSize = 1000;
    int m_sweepMs = 3000; ///< as set; the timer runs at 10x while the server pushes boxes
    bool m_serverPushesBoxes = false;
    int m_sweepOffset = 0;
    int m_total = 0;
    int m_generation = 0; ///< a new start() ignores pages of the previous one
    bool m_loading = false;
    bool m_subscribed = false;
};

} // namespace iptv::cerberus
