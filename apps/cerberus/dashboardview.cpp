#include "dashboardview.h"

#include "chartutil.h"

#include <QBarCategoryAxis>
#include <QBarSet>
#include <QChartView>
#include <QFrame>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QListView>
#include <QLocale>
#include <QSplitter>
#include <QStackedBarSeries>
#include <QValueAxis>
#include <QVBoxLayout>

using namespace iptv::cerberus;

namespace cerberus::ui {

namespace {

QLabel *card(QHBoxLayout *row, const QString &title, const QString &accent)
{
    auto *frame = new QFrame;
    frame->setObjectName(u"card"_qs);
    frame->setStyleSheet(QStringLiteral("QFrame#card { background: white; border: 1px solid #dde1e6; border-left: 4px solid %1;"
                                        " border-radius: 4px; }")
                             .arg(accent));
    auto *l = new QVBoxLayout(frame);
    l->setContentsMargins(12, 8, 12, 8);
    auto *t = new QLabel(title);
    t->setStyleSheet(u"color:#5f6b7a; font-size:9pt"_qs);
    auto *v = new QLabel(u"–"_qs);
    v->setStyleSheet(u"font-size:20pt; font-weight:600; color:#1f2d3d"_qs);
    l->addWidget(t);
    l->addWidget(v);
    row->addWidget(frame, 1);
    return v;
}

} // namespace

DashboardView::DashboardView(DashboardModel *model, QWidget *parent)
    : QWidget(parent), m_model(model)
{
    auto *cards = new QHBoxLayout;
    cards->setSpacing(8);
    m_boxes = card(cards, tr("Boxes"), u"#2e86c1"_qs);
    m_online = card(cards, tr("Online"), u"#2ea043"_qs);
    m_pending = card(cards, tr("Awaiting approval"), u"#e0a020"_qs);
    m_errors = card(cards, tr("Boxes with errors"), u"#c0392b"_qs);
    m_buffering = card(cards, tr("Buffering"), u"#8e44ad"_qs);
    m_alertCount = card(cards, tr("Alerts"), u"#d35400"_qs);

    auto *chart = new QChart;
    styleChart(chart, true);
    chart->setTitle(tr("Software versions by release channel"));
    m_versions = new QChartView(chart);
    m_versions->setRenderHint(QPainter::Antialiasing);
    m_onlineChart = new TimeChart(tr("Boxes online"), QString(), QColor(0x2e, 0xa0, 0x43));
    m_errorChart = new TimeChart(tr("Error rate"), u"%"_qs, QColor(0xc0, 0x39, 0x2b));

    m_alerts = new QListView;
    m_alerts->setModel(model->alerts());
    m_alerts->setAlternatingRowColors(true);
    m_alerts->setUniformItemSizes(true);
    auto *alertsBox = new QWidget;
    auto *al = new QVBoxLayout(alertsBox);
    al->setContentsMargins(0, 0, 0, 0);
    auto *ah = new QLabel(tr("Alerts"));
    ah->setStyleSheet(u"font-weight:600; font-size:10.5pt"_qs);
    al->addWidget(ah);
    al->addWidget(m_alerts, 1);
    m_noAlerts = new QLabel(tr("No alerts. Halted rollouts, boxes going offline and boxes running hot show up here."));
    m_noAlerts->setWordWrap(true);
    m_noAlerts->setStyleSheet(u"color:#5f6b7a; padding:12px; background:white; border:1px solid #dde1e6; border-radius:4px"_qs);
    m_noAlerts->setAlignment(Qt::AlignTop | Qt::AlignLeft);
    al->addWidget(m_noAlerts, 1);

    auto *charts = new QWidget;
    auto *grid = new QGridLayout(charts);
    grid->setContentsMargins(0, 0, 0, 0);
    grid->addWidget(m_versions, 0, 0, 1, 2);
    grid->addWidget(m_onlineChart, 1, 0);
    grid->addWidget(m_errorChart, 1, 1);
    grid->setRowStretch(0, 3);
    grid->setRowStretch(1, 2);

    auto *split = new QSplitter(Qt::Horizontal);
    split->addWidget(charts);
    split->addWidget(alertsBox);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 2);
    split->setSizes({820, 380});

    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(8, 8, 8, 8);
    layout->addLayout(cards);
    layout->addWidget(split, 1);

    connect(model, &DashboardModel::changed, this, &DashboardView::refresh);
    connect(model->alerts(), &QAbstractItemModel::rowsInserted, this, &DashboardView::refresh);
    connect(model->alerts(), &QAbstractItemModel::rowsRemoved, this, &DashboardView::refresh);
    refresh();
}

void DashboardView::refresh()
{
    const QLocale l;
    const int boxes = m_model->boxes();
    m_boxes->setText(l.toString(boxes));
    m_online->setText(boxes ? QStringLiteral("%1 <span style='font-size:11pt; color:#5f6b7a'>%2 %</span>")
                                  .arg(l.toString(m_model->online()))
                                  .arg(100.0 * m_model->online() / boxes, 0, 'f', 1)
                            : u"0"_qs);
    m_pending->setText(l.toString(m_model->pending()));
    m_errors->setText(QStringLiteral("%1 <span style='font-size:11pt; color:#5f6b7a'>%2 %</span>")
                          .arg(l.toString(m_model->boxesWithErrors()))
                          .arg(m_model->errorRate() * 100, 0, 'f', 1));
    m_buffering->setText(QString::number(m_model->bufferingRate() * 100, 'f', 1) + u" %"_qs);
    const bool anyAlert = m_model->alerts()->rowCount() > 0;
    m_alerts->setVisible(anyAlert);
    m_noAlerts->setVisible(!anyAlert);
    const int critical = m_model->alerts()->countOf(AlertModel::Critical);
    m_alertCount->setText(critical ? QStringLiteral("%1 <span style='font-size:11pt; color:#c0392b'>%2 critical</span>")
                                         .arg(m_model->alerts()->rowCount())
                                         .arg(critical)
                                   : QString::number(m_model->alerts()->rowCount()));

    // Versions: one bar per version, stacked by channel.
    const auto byChannel = m_model->versionsByChannel();
    QStringList versions;
    for (auto it = byChannel.cbegin(); it != byChannel.cend(); ++it)
        for (auto v = it->cbegin(); v != it->cend(); ++v)
            if (!versions.contains(v.key()))
                versions.append(v.key());
    std::sort(versions.begin(), versions.end());
    QChart *chart = m_versions->chart();
    int counted = 0;
    for (const auto &versionsOf : byChannel)
        for (int n : versionsOf)
            counted += n;
    chart->setTitle(tr("Software versions by release channel (%1 approved boxes)").arg(QLocale().toString(counted)));
    chart->removeAllSeries();
    for (QAbstractAxis *a : chart->axes())
        chart->removeAxis(a);
    auto *series = new QStackedBarSeries;
    const QColor colors[] = {QColor(0x2e, 0x86, 0xc1), QColor(0xd3, 0x54, 0x00)};
    int c = 0;
    for (const QString &channel : {u"clean"_qs, u"experimental"_qs}) {
        auto *set = new QBarSet(channel);
        set->setColor(colors[c++]);
        for (const QString &v : std::as_const(versions))
            *set << byChannel.value(channel).value(v);
        series->append(set);
    }
    chart->addSeries(series);
    auto *x = new QBarCategoryAxis;
    x->append(versions);
    auto *y = new QValueAxis;
    y->setLabelFormat(u"%d"_qs);
    chart->addAxis(x, Qt::AlignBottom);
    chart->addAxis(y, Qt::AlignLeft);
    series->attachAxis(x);
    series->attachAxis(y);
    y->applyNiceNumbers();

    m_onlineChart->setPoints(m_model->onlineHistory(), 0, std::max(10.0, boxes * 1.1));
    m_errorChart->setPoints(m_model->errorRateHistory(), 0, 10);
}

} // namespace cerberus::ui
