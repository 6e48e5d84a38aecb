#include "service.h"

#include <QCoreApplication>
#include <QLoggingCategory>
#include <QSocketNotifier>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>

Q_LOGGING_CATEGORY(lcService, "iptv.core.service")

namespace iptv {

namespace {
// File descriptors of the self-pipe; [0] is written by the handler, [1] read by the notifier.
int s_fds[2] = {-1, -1};
SignalWatcher *s_instance = nullptr;

void handleSignal(int signalNumber)
{
    const int saved = errno;
    const unsigned char byte = static_cast<unsigned char>(signalNumber);
    // If the pipe is full the event loop is already awake; dropping the byte is fine.
    [[maybe_unused]] const auto written = ::write(s_fds[0], &byte, 1);
    errno = saved;
}
} // namespace

SignalWatcher::SignalWatcher(QObject *parent)
    : SignalWatcher({SIGTERM, SIGINT, SIGHUP}, parent)
{
}

SignalWatcher::SignalWatcher(const QList<int> &signalNumbers, QObject *parent)
    : QObject(parent)
{
    if (s_instance) {
        qCWarning(lcService) << "a SignalWatcher already exists; this one stays inactive";
        return;
    }
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, s_fds) != 0) {
        qCWarning(lcService) << "socketpair failed:" << qt_error_string(errno);
        return;
    }
    s_instance = this;
    m_signals = signalNumbers;
    m_notifier = new QSocketNotifier(s_fds[1], QSocketNotifier::Read, this);
    connect(m_notifier, &QSocketNotifier::activated, this, &SignalWatcher::handleActivated);

    struct sigaction action = {};
    action.sa_handler = handleSignal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    for (int sig : std::as_const(m_signals)) {
        if (::sigaction(sig, &action, nullptr) != 0)
            qCWarning(lcService) << "sigaction" << sig << "failed:" << qt_error_string(errno);
    }
}

SignalWatcher::~SignalWatcher()
{
    if (s_instance != this)
        return;
    for (int sig : std::as_const(m_signals))
        ::signal(sig, SIG_DFL);
    delete m_notifier;
    ::close(s_fds[0]);
    ::close(s_fds[1]);
    s_fds[0] = s_fds[1] = -1;
    s_instance = nullptr;
}

bool SignalWatcher::isTermination(int signalNumber)
{
    return signalNumber == SIGTERM || signalNumber == SIGINT;
}

void SignalWatcher::handleActivated()
{
    unsigned char byte = 0;
    while (::read(s_fds[1], &byte, 1) == 1) {
        const int sig = byte;
        qCInfo(lcService) << "received signal" << sig << ::strsignal(sig);
        Q_EMIT signalReceived(sig);
        if (isTermination(sig))
            Q_EMIT terminationRequested(sig);
        else if (sig == SIGHUP)
            Q_EMIT reloadRequested();
    }
}

SignalWatcher *quitOnTermination(std::function<void()> stop)
{
    auto *watcher = new SignalWatcher(QCoreApplication::instance());
    QObject::connect(watcher, &SignalWatcher::terminationRequested, QCoreApplication::instance(),
                     [stop = std::move(stop)](int) {
                         if (stop)
                             stop();
                         QCoreApplication::exit(0);
                     });
    return watcher;
}

} // namespace iptv
