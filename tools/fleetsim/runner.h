#pragma once

// fleetsim's command line: one Fleet in this process, or K child processes of this program (each
// with its own serial range, to stay under the per-process file descriptor cap) whose snapshots
// the parent adds up. Progress on stderr, the final statistics on stdout (text or JSON).

#include "fleet.h"

#include <QElapsedTimer>
#include <QJsonObject>
#include <QObject>
#include <QProcess>
#include <QTextStream>

#include <memory>
#include <vector>

namespace iptv::fleetsim {

struct RunOptions
{
    FleetConfig fleet;
    int processes = 1;
    double durationSeconds = 0;  ///< 0 = until interrupted (or the storm/online exits below)
    bool storm = false;
    double stormAfterSeconds = 2;
    bool exitWhenOnline = false;
    bool json = false;
    bool quiet = false;
    bool child = false;          ///< internal: run one share and talk JSON lines to the parent
    QString childProgram;        ///< the fleetsim binary for children; empty = this program
};

/// Parses fleetsim's arguments; false with a message in *error (or the help/version text in *out).
bool parseArguments(const QStringList &arguments, RunOptions *options, QString *error, QString *out);

/// The arguments a child gets for boxes [first, first + boxes).
QStringList childArguments(const RunOptions &options, int first, int boxes, int index);

class FleetRunner : public QObject
{
    Q_OBJECT

public:
    FleetRunner(RunOptions options, QTextStream &out, QTextStream &err, QObject *parent = nullptr);
    ~FleetRunner() override;

    /// Starts the fleet (or the children); finished() is emitted with the exit code.
    void start();
    /// Ends the run now and prints the statistics.
    void finish();
    /// The merged counters of every box now.
    FleetSnapshot snapshot() const;
    /// The final report (also printed), for tests.
    QJsonObject report() const { return m_report; }
    Fleet *localFleet() { return m_fleet.get(); }

Q_SIGNALS:
    void finished(int exitCode);

private:
    struct Child
    {
        std::unique_ptr<QProcess> process;
        FleetSnapshot last;
        bool final = false;
        QByteArray buffer;
    };
    void tick();
    void readChild(Child &child);
    void complete();
    void printProgress(const FleetSnapshot &s);
    QJsonObject buildReport(const FleetSnapshot &s) const;
    void printReport(const QJsonObject &r);
    double elapsed() const { return double(m_clock.elapsed()) / 1000.0; }

    RunOptions m_options;
    QTextStream &m_out;
    QTextStream &m_err;
    std::unique_ptr<Fleet> m_fleet;
    std::vector<Child> m_children;
    QTimer m_tick;
    QElapsedTimer m_clock;
    qint64 m_startEpochMs = 0;
    bool m_finishing = false;
    bool m_done = false;
    // Steady-state window: from the first moment every box was online.
    bool m_allOnlineSeen = false;
    double m_allOnlineSeenAt = 0;
    FleetSnapshot m_atAllOnline;
    bool m_stormIssued = false;
    double m_stormRecoveredSeenAt = -1;
    // Rates between ticks.
    FleetSnapshot m_previous;
    double m_previousAt = 0;
    double m_peakAckedPerSecond = 0;
    QJsonObject m_report;
};

/// The child's side: runs a Fleet, prints a snapshot line every 250 ms, obeys "storm"/"stop" on stdin.
int runChild(const RunOptions &options);

} // namespace iptv::fleetsim
