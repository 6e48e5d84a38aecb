#pragma once

// One box in detail: its record, live telemetry as chart series (CPU, memory, temperature,
// buffering, zap times, frame times), its event log, its command history with live states, and
// the screenshot and log retrieval (a command, then its result data once it succeeded).

#include "controlclient.h"
#include "jsontablemodel.h"

#include <QImage>
#include <QJsonObject>
#include <QList>
#include <QObject>
#include <QPointF>
#include <QSet>

namespace iptv::cerberus {

class BoxDetailController : public QObject
{
    Q_OBJECT
    Q_PROPERTY(qint64 boxId READ boxId NOTIFY boxChanged)

public:
    enum Metric { Cpu, Memory, Temperature, Buffering, ZapTime, FrameTime, MetricCount };
    Q_ENUM(Metric)

    BoxDetailController(ControlClient *client, QObject *parent = nullptr);
    ~BoxDetailController() override;

    /// Shows `id` (0: none): loads record, history, events and commands; follows box:<id> live.
    void setBox(qint64 id);
    qint64 boxId() const { return m_box; }
    QJsonObject detail() const { return m_detail; }
    void refresh();

    /// (epoch ms, value): percent for CPU and memory, °C, buffering ms, zap ms, frame-time p95 ms.
    const QList<QPointF> &series(Metric m) const { return m_series[m]; }
    static QString metricTitle(Metric m);
    static QString metricUnit(Metric m);
    void setMaxPoints(int n) { m_maxPoints = n; }

    JsonTableModel *events() const { return m_events; }
    JsonTableModel *commands() const { return m_commands; }

    /// Asks the box for a screenshot / its last `lines` log lines; screenshotReady / logsReady follow.
    bool requestScreenshot();
    bool requestLogs(int lines = 500);

Q_SIGNALS:
    void boxChanged();
    void detailChanged();
    /// The history was (re)loaded: redraw every series.
    void seriesReset();
    /// One live sample was appended to every metric it carried.
    void sampleAppended(double timeMs);
    void screenshotReady(qint64 commandId, const QImage &image);
    void logsReady(qint64 commandId, const QString &text);
    /// A retrieval failed (the command failed or expired, or its data could not be read).
    void retrievalFailed(const QString &what, const QString &why);

private:
    void onUpdate(const QString &topic, const QJsonObject &update);
    void addSample(double timeMs, const QJsonObject &telemetry);
    bool retrieve(const QString &kind, const QJsonObject &args);
    void fetchResult(qint64 commandId, const QString &kind);
    void trimSeries();

    ControlClient *m_client;
    qint64 m_box = 0;
    int m_generation = 0;
    QJsonObject m_detail;
    QList<QPointF> m_series[MetricCount];
    int m_maxPoints = 2000;
    JsonTableModel *m_events;
    JsonTableModel *m_commands;
    QHash<qint64, QString> m_retrievals; ///< command id -> kind awaiting its result
};

} // namespace iptv::cerberus
