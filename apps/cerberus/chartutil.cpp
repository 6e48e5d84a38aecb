#include "chartutil.h"

#include <QHeaderView>
#include <QTableView>

#include <QDateTime>
#include <QGraphicsLayout>

#include <algorithm>

namespace cerberus::ui {

void styleChart(QChart *chart, bool legend)
{
    chart->setMargins(QMargins(4, 4, 4, 4));
    chart->layout()->setContentsMargins(0, 0, 0, 0);
    chart->setBackgroundRoundness(4);
    chart->legend()->setVisible(legend);
    if (legend)
        chart->legend()->setAlignment(Qt::AlignBottom);
    QFont f = chart->titleFont();
    f.setPointSizeF(9);
    f.setBold(true);
    chart->setTitleFont(f);
}

TimeChart::TimeChart(const QString &title, const QString &unit, QColor color, QWidget *parent)
    : QChartView(parent), m_title(title), m_unit(unit), m_series(new QLineSeries), m_x(new QDateTimeAxis), m_y(new QValueAxis)
{
    auto *chart = new QChart;
    styleChart(chart);
    chart->setTitle(title);
    QPen pen(color);
    pen.setWidthF(1.8);
    m_series->setPen(pen);
    chart->addSeries(m_series);
    m_x->setFormat(u"HH:mm:ss"_qs);
    m_x->setTickCount(4);
    QFont small = m_x->labelsFont();
    small.setPointSizeF(7.5);
    m_x->setLabelsFont(small);
    m_y->setLabelsFont(small);
    m_y->setLabelFormat(u"%.0f"_qs);
    m_y->setTickCount(4);
    chart->addAxis(m_x, Qt::AlignBottom);
    chart->addAxis(m_y, Qt::AlignLeft);
    m_series->attachAxis(m_x);
    m_series->attachAxis(m_y);
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    m_x->setRange(QDateTime::fromMSecsSinceEpoch(now - 300000), QDateTime::fromMSecsSinceEpoch(now));
    m_y->setRange(0, 100);
    setChart(chart);
    setRenderHint(QPainter::Antialiasing);
    setMinimumHeight(150);
}

void TimeChart::setPoints(const QList<QPointF> &points, double minY, double maxY)
{
    m_series->replace(points);
    if (points.isEmpty()) {
        setLatest(tr("no data yet"));
        return;
    }
    double lo = minY, hi = minY;
    for (const QPointF &p : points) {
        lo = std::min(lo, p.y());
        hi = std::max(hi, p.y());
    }
    // Sparse series (zap times come a few per sample) show their points.
    m_series->setPointsVisible(points.size() < 12);
    if (maxY > lo && hi <= maxY) {
        m_y->setRange(lo, maxY); // a known scale (percent, fleet size) stays put
        m_y->setLabelFormat(maxY - lo <= 10 ? u"%.1f"_qs : u"%.0f"_qs);
    } else {
        hi = std::max(hi, lo + 10); // small integer-ish values: no axis labelled 0, 1, 1, 2
        m_y->setRange(lo, hi + (hi - lo) * 0.1);
        m_y->applyNiceNumbers();
        m_y->setLabelFormat(u"%.0f"_qs);
    }
    const double first = points.first().x(), last = points.last().x();
    m_x->setRange(QDateTime::fromMSecsSinceEpoch(qint64(std::min(first, last - 60000))), QDateTime::fromMSecsSinceEpoch(qint64(last)));
    setLatest(QString::number(points.last().y(), 'f', points.last().y() < 10 ? 1 : 0) + u' ' + m_unit);
}

void TimeChart::setLatest(const QString &text)
{
    chart()->setTitle(m_title + u"  —  "_qs + text);
}

QTableView *compactTable(QAbstractItemModel *model)
{
    auto *t = new QTableView;
    t->setModel(model);
    t->setTextElideMode(Qt::ElideMiddle);
    t->setSelectionBehavior(QAbstractItemView::SelectRows);
    t->setAlternatingRowColors(true);
    t->verticalHeader()->hide();
    t->verticalHeader()->setDefaultSectionSize(22);
    t->horizontalHeader()->setStretchLastSection(true);
    t->horizontalHeader()->setHighlightSections(false);
    t->setWordWrap(false);
    return t;
}

} // namespace cerberus::ui
