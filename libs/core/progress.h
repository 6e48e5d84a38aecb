#pragma once

#include <QElapsedTimer>
#include <QString>
#include <QtGlobal>

#include <cstdio>

namespace iptv {

/// A progress bar for long CLI work, drawn on stderr. On a terminal it redraws one line at most
/// ten times a second; otherwise (logs, CI) it prints a line at each 10 % step. Quiet mode prints nothing.
class ProgressBar
{
public:
    ProgressBar(QString label, qint64 total, bool quiet = false, FILE *out = stderr);
    ~ProgressBar();

    void setTotal(qint64 total) { m_total = total; }
    void setLabel(const QString &label) { m_label = label; }
    void update(qint64 done);
    void finish(const QString &message = {});

private:
    void draw(bool force);

    QString m_label;
    qint64 m_total;
    qint64 m_done = 0;
    bool m_quiet;
    bool m_tty;
    bool m_finished = false;
    int m_lastDecile = -1;
    FILE *m_out;
    QElapsedTimer m_clock;
    qint64 m_lastDrawMs = -1000;
};

} // namespace iptv
