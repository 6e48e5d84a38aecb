#pragma once

// Service lifecycle for headless daemons: Unix signals turned into Qt signals.
//
// A signal handler may only do async-signal-safe work, so it writes the signal number into a
// socket pair; a QSocketNotifier on the other end wakes the event loop, which then emits
// signalReceived() where any Qt code may run (stop timers, abort downloads, close the database).

#include <QList>
#include <QObject>

#include <functional>

class QSocketNotifier;

namespace iptv {

class SignalWatcher : public QObject
{
    Q_OBJECT
public:
    /// Watches the given signals (default SIGTERM, SIGINT and SIGHUP). Only one watcher may
    /// exist at a time; the previous dispositions are restored when it is destroyed.
    explicit SignalWatcher(QObject *parent = nullptr);
    SignalWatcher(const QList<int> &signalNumbers, QObject *parent = nullptr);
    ~SignalWatcher() override;

    bool isValid() const { return m_notifier != nullptr; }
    static bool isTermination(int signalNumber);

Q_SIGNALS:
    void signalReceived(int signalNumber);
    /// SIGTERM or SIGINT: the service should stop cleanly and exit 0.
    void terminationRequested(int signalNumber);
    /// SIGHUP: by convention, reload or refresh.
    void reloadRequested();

private:
    void handleActivated();

    QSocketNotifier *m_notifier = nullptr;
    QList<int> m_signals;
};

/// Quits `QCoreApplication` with exit code 0 on SIGTERM/SIGINT after calling `stop` (which may be
/// empty). Returns the watcher, owned by the application object.
SignalWatcher *quitOnTermination(std::function<void()> stop = {});

} // namespace iptv
