#pragma once

// Small helpers shared by the chart views: a time-series chart with one line, compact styling
// that fits a laptop screen.

#include <QChart>
#include <QChartView>
#include <QColor>
#include <QDateTimeAxis>
#include <QLineSeries>
#include <QValueAxis>

QT_BEGIN_NAMESPACE
class QAbstractItemModel;
class QTableView;
QT_END_NAMESPACE

namespace cerberus::ui {

/// A dense read-only table (row selection, 22 px rows, no row header) as the detail views use.
QTableView *compactTable(QAbstractItemModel *model);

/// A compact line chart over time: title, one series, a time X axis and a value Y axis.
class TimeChart : public QChartView
{
    Q_OBJECT
public:
    TimeChart(const QString &title, const QString &unit, QColor color, QWidget *parent = nullptr);
    /// Replaces the points (x = epoch ms) and fits the axes; `minY`/`maxY` widen the range.
    void setPoints(const QList<QPointF> &points, double minY = 0, double maxY = -1);
    void setLatest(const QString &text);

private:
    QString m_title;
    QString m_unit;
    QLineSeries *m_series;
    QDateTimeAxis *m_x;
    QValueAxis *m_y;
};

/// Applies the console's chart look (no big margins, small fonts, no legend unless wanted).
void styleChart(QChart *chart, bool legend = false);

} // namespace cerberus::ui
