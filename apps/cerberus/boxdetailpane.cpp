#include "boxdetailpane.h"

#include "chartutil.h"

#include <cerberus/jsontablemodel.h>

#include <QDateTime>
#include <QGridLayout>
#include <QHeaderView>
#include <QJsonArray>
#include <QLabel>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QScrollArea>
#include <QTabWidget>
#include <QTableView>
#include <QVBoxLayout>

using namespace iptv::cerberus;

namespace cerberus::ui {

namespace {

QTableView *makeTable(QAbstractItemModel *model)
{
    return compactTable(model);
}

} // namespace

BoxDetailPane::BoxDetailPane(BoxDetailController *controller, QWidget *parent)
    : QWidget(parent), m_controller(controller)
{
    m_title = new QLabel(tr("Select a box"));
    m_title->setStyleSheet(u"font-size:13pt; font-weight:600"_qs);
    m_facts = new QLabel;
    m_facts->setTextFormat(Qt::RichText);
    m_facts->setWordWrap(true);
    m_facts->setStyleSheet(u"color:#444"_qs);
    m_tabs = new QTabWidget;

    // Live charts, two per row, scrolling when the pane is short.
    auto *chartsPage = new QWidget;
    auto *grid = new QGridLayout(chartsPage);
    grid->setContentsMargins(2, 2, 2, 2);
    grid->setSpacing(4);
    const QColor colors[] = {QColor(0x2e, 0x86, 0xc1), QColor(0x8e, 0x44, 0xad), QColor(0xd3, 0x54, 0x00),
                             QColor(0xc0, 0x39, 0x2b), QColor(0x16, 0xa0, 0x85), QColor(0x2c, 0x3e, 0x50)};
    for (int m = 0; m < BoxDetailController::MetricCount; ++m) {
        const auto metric = BoxDetailController::Metric(m);
        m_charts[m] = new TimeChart(BoxDetailController::metricTitle(metric), BoxDetailController::metricUnit(metric), colors[m]);
        grid->addWidget(m_charts[m], m / 2, m % 2);
    }
    auto *scroll = new QScrollArea;
    scroll->setWidget(chartsPage);
    scroll->setWidgetResizable(true);
    scroll->setFrameShape(QFrame::NoFrame);
    m_tabs->addTab(scroll, tr("&Live"));

    m_events = makeTable(controller->events());
    m_tabs->addTab(m_events, tr("&Events"));
    m_commands = makeTable(controller->commands());
    const int commandWidths[] = {64, 90, 80, 130, 60};
    for (int c = 0; c < 5; ++c)
        m_commands->setColumnWidth(c, commandWidths[c]);
    m_events->setColumnWidth(0, 130);
    m_events->setColumnWidth(1, 70);
    m_events->setColumnWidth(2, 90);
    m_tabs->addTab(m_commands, tr("C&ommands"));

    auto *retrieval = new QWidget;
    auto *rl = new QVBoxLayout(retrieval);
    auto *buttons = new QHBoxLayout;
    m_shotButton = new QPushButton(tr("Take &screenshot"));
    m_logsButton = new QPushButton(tr("Collect &logs"));
    m_retrievalState = new QLabel;
    m_retrievalState->setStyleSheet(u"color:#666"_qs);
    buttons->addWidget(m_shotButton);
    buttons->addWidget(m_logsButton);
    buttons->addWidget(m_retrievalState, 1);
    rl->addLayout(buttons);
    m_screenshot = new QLabel(tr("No screenshot yet"));
    m_screenshot->setAlignment(Qt::AlignCenter);
    m_screenshot->setMinimumHeight(120);
    m_screenshot->setStyleSheet(u"background:#1e1e1e; color:#aaa; border-radius:4px"_qs);
    rl->addWidget(m_screenshot, 3);
    m_logs = new QPlainTextEdit;
    m_logs->setReadOnly(true);
    m_logs->setPlaceholderText(tr("Logs appear here"));
    m_logs->setFont(QFont(u"Monospace"_qs, 8));
    rl->addWidget(m_logs, 2);
    m_tabs->addTab(retrieval, tr("Screens&hot && logs"));

    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(6, 4, 4, 4);
    layout->addWidget(m_title);
    layout->addWidget(m_facts);
    layout->addWidget(m_tabs, 1);

    connect(controller, &BoxDetailController::detailChanged, this, &BoxDetailPane::showDetail);
    connect(controller, &BoxDetailController::seriesReset, this, &BoxDetailPane::redraw);
    connect(controller, &BoxDetailController::sampleAppended, this, &BoxDetailPane::redraw);
    connect(m_shotButton, &QPushButton::clicked, this, [this] {
        if (m_controller->requestScreenshot())
            m_retrievalState->setText(tr("Asked the box for a screenshot…"));
    });
    connect(m_logsButton, &QPushButton::clicked, this, [this] {
        if (m_controller->requestLogs(500))
            m_retrievalState->setText(tr("Asked the box for its logs…"));
    });
    connect(controller, &BoxDetailController::screenshotReady, this, [this](qint64 id, const QImage &image) {
        m_screenshot->setPixmap(QPixmap::fromImage(image).scaled(m_screenshot->size() - QSize(8, 8), Qt::KeepAspectRatio,
                                                                 Qt::SmoothTransformation));
        m_retrievalState->setText(tr("Screenshot %1×%2 (command %3)").arg(image.width()).arg(image.height()).arg(id));
    });
    connect(controller, &BoxDetailController::logsReady, this, [this](qint64 id, const QString &text) {
        m_logs->setPlainText(text);
        m_retrievalState->setText(tr("%n log line(s) (command %1)", nullptr, int(text.count(u'\n'))).arg(id));
    });
    connect(controller, &BoxDetailController::retrievalFailed, this, [this](const QString &what, const QString &why) {
        m_retrievalState->setText(u"<span style='color:#c0392b'>"_qs + tr("%1 failed: %2").arg(what, why.toHtmlEscaped()) + u"</span>"_qs);
    });
    showDetail();
}

void BoxDetailPane::showDetail()
{
    const QJsonObject d = m_controller->detail();
    const bool has = m_controller->boxId() != 0;
    m_tabs->setEnabled(has);
    m_shotButton->setEnabled(has);
    m_logsButton->setEnabled(has);
    if (!has) {
        m_title->setText(tr("Select a box"));
        m_facts->setText(tr("Pick a row in the fleet table to see its live telemetry, events and commands."));
        return;
    }
    const bool online = d.value(u"online").toBool();
    m_title->setText(QStringLiteral("%1  <span style='font-size:10pt; color:%2'>● %3</span>")
                         .arg(d.value(u"serial").toString(u"b-"_qs + QString::number(m_controller->boxId())),
                              online ? u"#2ea043"_qs : u"#9aa0a6"_qs, online ? tr("online") : tr("offline")));
    const QJsonObject t = d.value(u"latestTelemetry").toObject();
    QStringList facts;
    auto fact = [&facts](const QString &k, const QString &v) {
        if (!v.isEmpty())
            facts.append(QStringLiteral("<b>%1</b> %2").arg(k, v.toHtmlEscaped()));
    };
    fact(tr("Model"), d.value(u"model").toString());
    fact(tr("Software"), d.value(u"softwareVersion").toString());
    fact(tr("Release"), d.value(u"releaseChannel").toString());
    fact(tr("Watching"), d.value(u"currentChannel").toString());
    fact(tr("Player"), d.value(u"playerState").toString());
    fact(tr("MAC"), d.value(u"mac").toString());
    if (t.contains(u"up"))
        fact(tr("Uptime"), QStringLiteral("%1 h %2 min").arg(t.value(u"up").toInteger() / 3600).arg(t.value(u"up").toInteger() / 60 % 60));
    const QJsonArray tags = d.value(u"tags").toArray();
    QStringList tagList;
    for (const QJsonValue &v : tags)
        tagList.append(v.toString());
    fact(tr("Tags"), tagList.join(u", "_qs));
    m_facts->setText(facts.join(u" &nbsp;·&nbsp; "_qs));
}

void BoxDetailPane::redraw()
{
    for (int m = 0; m < BoxDetailController::MetricCount; ++m) {
        const auto metric = BoxDetailController::Metric(m);
        const double maxY = (metric == BoxDetailController::Cpu || metric == BoxDetailController::Memory) ? 100 : -1;
        m_charts[m]->setPoints(m_controller->series(metric), 0, maxY);
    }
}

} // namespace cerberus::ui
