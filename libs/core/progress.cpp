#include "progress.h"

#include <unistd.h>

namespace iptv {

ProgressBar::ProgressBar(QString label, qint64 total, bool quiet, FILE *out)
    : m_label(std::move(label)), m_total(total), m_quiet(quiet), m_tty(isatty(fileno(out))), m_out(out)
{
    m_clock.start();
}

ProgressBar::~ProgressBar()
{
    if (!m_finished)
        finish();
}

void ProgressBar::update(qint64 done)
{
    m_done = done;
    draw(false);
}

void ProgressBar::draw(bool force)
{
    if (m_quiet)
        return;
    const double fraction = m_total > 0 ? qBound(0.0, double(m_done) / double(m_total), 1.0) : 0.0;
    const qint64 now = m_clock.elapsed();
    if (m_tty) {
        if (!force && now - m_lastDrawMs < 100)
            return;
        m_lastDrawMs = now;
        constexpr int width = 30;
        const int filled = int(fraction * width);
        QByteArray bar(filled, '#');
        bar.append(QByteArray(width - filled, '.'));
        std::fprintf(m_out, "\r%s [%s] %5.1f%%  %.1fs ", m_label.toLocal8Bit().constData(), bar.constData(),
                     fraction * 100.0, now / 1000.0);
        std::fflush(m_out);
    } else {
        const int decile = int(fraction * 10);
        if (!force && decile == m_lastDecile)
            return;
        m_lastDecile = decile;
        std::fprintf(m_out, "%s: %3d%%  %.1fs\n", m_label.toLocal8Bit().constData(), decile * 10, now / 1000.0);
    }
}

void ProgressBar::finish(const QString &message)
{
    if (m_finished)
        return;
    m_finished = true;
    if (m_quiet)
        return;
    m_done = m_total;
    if (m_tty) {
        draw(true);
        std::fprintf(m_out, "%s\n", message.toLocal8Bit().constData());
    } else {
        std::fprintf(m_out, "%s: done in %.1fs %s\n", m_label.toLocal8Bit().constData(), m_clock.elapsed() / 1000.0,
                     message.toLocal8Bit().constData());
    }
    std::fflush(m_out);
}

} // namespace iptv
