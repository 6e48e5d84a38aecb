#include "mainwindow.h"

#include "auditview.h"
#include "boxdetailpane.h"
#include "dashboardview.h"
#include "fleetview.h"
#include "recordingsview.h"
#include "releasesview.h"

#include <cerberus/auditcontroller.h>
#include <cerberus/boxdetailcontroller.h>
#include <cerberus/commandcontroller.h>
#include <cerberus/controlclient.h>
#include <cerberus/dashboardmodel.h>
#include <cerberus/dvrcontroller.h>
#include <cerberus/fleetcontroller.h>
#include <cerberus/fleetmodel.h>
#include <cerberus/releasecontroller.h>

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QHeaderView>
#include <QLabel>
#include <QHBoxLayout>
#include <QListWidget>
#include <QMenuBar>
#include <QMessageBox>
#include <QSettings>
#include <QSplitter>
#include <QStackedWidget>
#include <QStatusBar>
#include <QTabWidget>
#include <QTableView>
#include <QTimer>

using namespace iptv::cerberus;

namespace cerberus::ui {

MainWindow::MainWindow(ControlClient *client, DiverClient *diver, QWidget *parent)
    : QMainWindow(parent), m_client(client), m_model(new FleetModel(this)), m_fleet(new FleetController(client, m_model, this)),
      m_dashboard(new DashboardModel(this)), m_detail(new BoxDetailController(client, this)),
      m_commands(new CommandController(client, this)), m_releases(new ReleaseController(client, this)),
      m_audit(new AuditController(client, this)), m_dvr(new DvrController(diver, this))
{
    setWindowTitle(tr("Cerberus"));
    m_nav = new QListWidget;
    m_nav->setFixedWidth(132);
    m_nav->setFrameShape(QFrame::NoFrame);
    m_nav->setStyleSheet(u"QListWidget { background:#1f2d3d; color:#c9d3de; font-size:10.5pt; padding-top:6px; }"
                         "QListWidget::item { padding:9px 14px; border:none; }"
                         "QListWidget::item:selected { padding:9px 14px; background:#2e86c1; color:white; }"
                         "QListWidget::item:hover:!selected { background:#2a3b4f; }"_qs);
    for (const QString &name : {tr("Dashboard"), tr("Fleet"), tr("Releases"), tr("Audit log"), tr("Recordings")})
        m_nav->addItem(name);

    m_dashboardView = new DashboardView(m_dashboard);
    m_fleetView = new FleetView(client, m_model, m_detail, m_commands);
    m_releasesView = new ReleasesView(client, m_releases);
    m_auditView = new AuditView(m_audit);
    m_recordingsView = new RecordingsView(m_dvr);
    m_stack = new QStackedWidget;
    m_stack->addWidget(m_dashboardView);
    m_stack->addWidget(m_fleetView);
    m_stack->addWidget(m_releasesView);
    m_stack->addWidget(m_auditView);
    m_stack->addWidget(m_recordingsView);

    auto *central = new QWidget;
    auto *layout = new QHBoxLayout(central);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(0);
    layout->addWidget(m_nav);
    layout->addWidget(m_stack, 1);
    setCentralWidget(central);

    connect(m_nav, &QListWidget::currentRowChanged, this, [this](int row) {
        m_stack->setCurrentIndex(row);
        if (row == Audit)
            m_audit->refresh();
    });

    // Menus and shortcuts (Ctrl+1..5 switch views).
    QMenu *file = menuBar()->addMenu(tr("&Session"));
    file->addAction(tr("Sign &out"), this, [this] {
        m_client->logout();
        close();
    });
    file->addAction(tr("&Quit"), QKeySequence::Quit, this, &QWidget::close);
    QMenu *view = menuBar()->addMenu(tr("&View"));
    const QString names[] = {tr("&Dashboard"), tr("&Fleet"), tr("&Releases"), tr("&Audit log"), tr("Re&cordings")};
    for (int i = 0; i < 5; ++i)
        view->addAction(names[i], QKeySequence(Qt::CTRL | Qt::Key(Qt::Key_1 + i)), this, [this, i] { showView(View(i)); });
    view->addSeparator();
    view->addAction(tr("Reload fleet"), QKeySequence(Qt::Key_F5), this, [this] { m_fleet->start(); });
    QMenu *boxes = menuBar()->addMenu(tr("&Boxes"));
    boxes->addActions(m_fleetView->commandActions());

    m_session = new QLabel;
    m_live = new QLabel;
    m_message = new QLabel;
    m_message->setTextInteractionFlags(Qt::TextSelectableByMouse);
    statusBar()->addWidget(m_session);
    statusBar()->addWidget(m_live);
    statusBar()->addWidget(m_message, 1);

    // Wiring between controllers.
    m_dashboard->setFleetModel(m_model);
    connect(m_fleet, &FleetController::summaryReceived, m_dashboard, &DashboardModel::applySummary);
    connect(m_fleet, &FleetController::boxesWentOffline, m_dashboard, &DashboardModel::noteOffline);
    connect(m_model, &FleetModel::temperatureAlarm, m_dashboard, &DashboardModel::noteTemperature);
    connect(m_releases, &ReleaseController::rolloutChanged, m_dashboard, &DashboardModel::noteRollout);
    connect(m_fleet, &FleetController::progress, this, [this](int loaded, int total) {
        showMessage(tr("Loading fleet: %L1 of %L2 boxes").arg(loaded).arg(total), false);
    });
    connect(m_fleet, &FleetController::loadingChanged, this, [this] {
        if (m_fleet->isLoading())
            m_fleetView->suspendSorting();
        else
            m_fleetView->resumeSorting();
    });
    connect(m_fleet, &FleetController::loaded, this, [this] {
        showMessage(tr("Fleet loaded: %L1 boxes").arg(m_model->rowCount()), false);
        m_fleetView->refreshPickers();
    });
    connect(client, &ControlClient::requestFailed, this, [this](const QString &what, const ApiError &e) {
        showMessage(what + u": "_qs + e.toString(), true);
    });
    connect(m_commands, &CommandController::issued, this, [this](const QString &kind, qint64 batch, int count, int queued) {
        showMessage(tr("%1 sent to %n box(es) (batch %2, %3 queued for offline boxes)", nullptr, count).arg(kind).arg(batch).arg(queued),
                    false);
    });
    connect(m_commands, &CommandController::failed, this, [this](const QString &what, const ApiError &e) {
        showMessage(what + u": "_qs + e.message, true);
    });
    connect(m_commands, &CommandController::bulkFinished, this, [this](const QString &what, int done, int failures) {
        showMessage(tr("%1: %2 done, %3 failed").arg(what).arg(done).arg(failures), failures > 0);
        m_fleet->start();
    });
    connect(m_releases, &ReleaseController::failed, this, [this](const QString &what, const ApiError &e) {
        QMessageBox::warning(this, what, e.toString());
    });
    connect(m_releases, &ReleaseController::uploaded, this, [this](const QJsonObject &r) {
        showMessage(tr("Release %1 uploaded").arg(r.value(u"version").toString()), false);
    });
    connect(m_dvr, &DvrController::done, this, [this](const QString &text) { showMessage(text, false); });
    connect(m_dvr, &DvrController::failed, this, [this](const QString &what, const ApiError &e) {
        showMessage(what + u": "_qs + e.toString(), true);
    });
    connect(client, &ControlClient::liveConnectedChanged, this, &MainWindow::updateStatus);
    connect(client, &ControlClient::sessionChanged, this, &MainWindow::updateStatus);
    connect(client, &ControlClient::sessionExpired, this, [this] {
        QMessageBox::warning(this, tr("Session ended"), tr("The server no longer accepts this session. Sign in again."));
        close();
    });
    auto *statusTimer = new QTimer(this);
    connect(statusTimer, &QTimer::timeout, this, &MainWindow::updateStatus);
    statusTimer->start(1000);

    restoreLayout();
    updateStatus();
}

MainWindow::~MainWindow() = default;

void MainWindow::setTrustedKeys(const QStringList &files)
{
    m_releases->setTrustedKeyFiles(files);
}

void MainWindow::showView(View view)
{
    m_nav->setCurrentRow(view);
}

void MainWindow::startSession()
{
    m_fleet->start();
    m_releases->start();
    m_audit->refresh();
    m_dvr->start();
    updateStatus();
}

void MainWindow::updateStatus()
{
    m_session->setText(m_client->isLoggedIn()
                           ? tr("  %1 · %2 @ %3  ").arg(m_client->account(), m_client->permissions()->role(),
                                                        m_client->serverUrl().host() + u':' + QString::number(m_client->serverUrl().port()))
                           : tr("  signed out  "));
    m_live->setText(m_client->isLiveConnected() ? u"<span style='color:#2ea043'>● live</span>  "_qs
                                                : u"<span style='color:#c0392b'>● reconnecting</span>  "_qs);
}

void MainWindow::showMessage(const QString &text, bool error)
{
    m_message->setText(error ? u"<span style='color:#c0392b'>"_qs + text.toHtmlEscaped() + u"</span>"_qs : text.toHtmlEscaped());
}

void MainWindow::restoreLayout()
{
    QSettings s;
    if (!restoreGeometry(s.value(u"window/geometry"_qs).toByteArray()))
        resize(1366, 740); // fits a 1366×768 laptop with the panel
    restoreState(s.value(u"window/state"_qs).toByteArray());
    m_fleetView->splitter()->restoreState(s.value(u"fleet/splitter"_qs).toByteArray());
    m_fleetView->table()->horizontalHeader()->restoreState(s.value(u"fleet/header"_qs).toByteArray());
    m_releasesView->splitter()->restoreState(s.value(u"releases/splitter"_qs).toByteArray());
    m_auditView->table()->horizontalHeader()->restoreState(s.value(u"audit/header"_qs).toByteArray());
    m_recordingsView->recordingsTable()->horizontalHeader()->restoreState(s.value(u"dvr/header"_qs).toByteArray());
    m_recordingsView->tabs()->setCurrentIndex(s.value(u"dvr/tab"_qs, 0).toInt());
    m_fleetView->detailPane()->tabs()->setCurrentIndex(s.value(u"fleet/detailTab"_qs, 0).toInt());
    showView(View(s.value(u"window/view"_qs, int(Fleet)).toInt()));
}

void MainWindow::saveLayout()
{
    QSettings s;
    s.setValue(u"window/geometry"_qs, saveGeometry());
    s.setValue(u"window/state"_qs, saveState());
    s.setValue(u"window/view"_qs, m_nav->currentRow());
    s.setValue(u"fleet/splitter"_qs, m_fleetView->splitter()->saveState());
    s.setValue(u"fleet/header"_qs, m_fleetView->table()->horizontalHeader()->saveState());
    s.setValue(u"fleet/detailTab"_qs, m_fleetView->detailPane()->tabs()->currentIndex());
    s.setValue(u"releases/splitter"_qs, m_releasesView->splitter()->saveState());
    s.setValue(u"audit/header"_qs, m_auditView->table()->horizontalHeader()->saveState());
    s.setValue(u"dvr/header"_qs, m_recordingsView->recordingsTable()->horizontalHeader()->saveState());
    s.setValue(u"dvr/tab"_qs, m_recordingsView->tabs()->currentIndex());
}

void MainWindow::closeEvent(QCloseEvent *event)
{
    saveLayout();
    event->accept();
}

} // namespace cerberus::ui
