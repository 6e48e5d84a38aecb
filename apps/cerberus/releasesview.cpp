#include "releasesview.h"

#include "chartutil.h"

#include <QBarCategoryAxis>
#include <QBarSet>
#include <QChartView>
#include <QComboBox>
#include <QDialog>
#include <QDialogButtonBox>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QHorizontalStackedBarSeries>
#include <QInputDialog>
#include <QJsonArray>
#include <QLabel>
#include <QLineEdit>
#include <QLocale>
#include <QMessageBox>
#include <QPushButton>
#include <QSpinBox>
#include <QSplitter>
#include <QTableView>
#include <QValueAxis>
#include <QVBoxLayout>

using namespace iptv::cerberus;

namespace cerberus::ui {

namespace {

QTableView *table(QAbstractItemModel *m)
{
    QTableView *t = compactTable(m);
    t->setTextElideMode(Qt::ElideRight);
    t->setSelectionMode(QAbstractItemView::SingleSelection);
    return t;
}

QLabel *heading(const QString &text)
{
    auto *l = new QLabel(text);
    l->setStyleSheet(u"font-weight:600; font-size:10.5pt; margin-top:4px"_qs);
    return l;
}

} // namespace

ReleasesView::ReleasesView(ControlClient *client, ReleaseController *releases, QWidget *parent)
    : QWidget(parent), m_client(client), m_releases(releases)
{
    m_upload = new QPushButton(tr("&Upload bundle…"));
    m_start = new QPushButton(tr("Start &rollout…"));
    m_pause = new QPushButton(tr("&Pause"));
    m_resume = new QPushButton(tr("Res&ume"));
    m_abort = new QPushButton(tr("&Abort…"));

    m_releaseTable = table(releases->releases());
    m_rolloutTable = table(releases->rollouts());
    m_groupTable = table(releases->groups());
    m_rolloutTable->setColumnWidth(0, 70);
    m_rolloutTable->setColumnWidth(5, 260);

    auto *chart = new QChart;
    styleChart(chart, true);
    chart->setTitle(tr("Progress per group"));
    m_groupChart = new QChartView(chart);
    m_groupChart->setRenderHint(QPainter::Antialiasing);
    m_groupChart->setMinimumHeight(160);
    m_rolloutTitle = new QLabel;
    m_rolloutTitle->setStyleSheet(u"color:#444"_qs);

    auto *top = new QWidget;
    auto *tl = new QVBoxLayout(top);
    tl->setContentsMargins(0, 0, 0, 0);
    auto *tb = new QHBoxLayout;
    tb->addWidget(heading(tr("Releases")));
    tb->addStretch(1);
    tb->addWidget(m_upload);
    tb->addWidget(m_start);
    tl->addLayout(tb);
    m_noReleases = new QLabel(tr("No releases yet. Build and sign a bundle with iptv-payload, then Upload bundle… shows its manifest "
                                 "and signature before it is sent."));
    m_noReleases->setWordWrap(true);
    m_noReleases->setStyleSheet(u"color:#5f6b7a"_qs);
    tl->addWidget(m_noReleases);
    tl->addWidget(m_releaseTable);

    auto *middle = new QWidget;
    auto *ml = new QVBoxLayout(middle);
    ml->setContentsMargins(0, 0, 0, 0);
    auto *mb = new QHBoxLayout;
    mb->addWidget(heading(tr("Rollouts")));
    mb->addStretch(1);
    mb->addWidget(m_pause);
    mb->addWidget(m_resume);
    mb->addWidget(m_abort);
    ml->addLayout(mb);
    m_noRollouts = new QLabel(tr("No rollouts yet. Start rollout… sends a release to a channel in groups: each opens when the one "
                                 "before reached its success threshold, and too many failures halt it."));
    m_noRollouts->setWordWrap(true);
    m_noRollouts->setStyleSheet(u"color:#5f6b7a"_qs);
    ml->addWidget(m_noRollouts);
    ml->addWidget(m_rolloutTable);

    auto *bottom = new QWidget;
    auto *bl = new QHBoxLayout(bottom);
    bl->setContentsMargins(0, 0, 0, 0);
    auto *groupsBox = new QWidget;
    auto *gl = new QVBoxLayout(groupsBox);
    gl->setContentsMargins(0, 0, 0, 0);
    gl->addWidget(m_rolloutTitle);
    gl->addWidget(m_groupTable);
    bl->addWidget(groupsBox, 3);
    bl->addWidget(m_groupChart, 2);

    m_splitter = new QSplitter(Qt::Vertical);
    m_splitter->addWidget(top);
    m_splitter->addWidget(middle);
    m_splitter->addWidget(bottom);
    m_splitter->setStretchFactor(0, 2);
    m_splitter->setStretchFactor(1, 2);
    m_splitter->setStretchFactor(2, 3);
    m_splitter->setSizes({150, 170, 380});
    m_notice = new QLabel;
    m_notice->setWordWrap(true);
    m_notice->setStyleSheet(u"background:#fff4e5; border:1px solid #f0c27b; border-radius:4px; padding:6px; color:#7a4b00"_qs);
    m_notice->hide();
    m_groupTable->horizontalHeader()->setMinimumSectionSize(40);
    m_groupTable->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
    m_groupTable->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(6, 6, 6, 6);
    layout->addWidget(m_notice);
    layout->addWidget(m_splitter);
    connect(releases, &ReleaseController::availabilityChanged, this, [this](bool available, const QString &why) {
        m_notice->setText(tr("Releases are not available: %1.").arg(why));
        m_notice->setVisible(!available);
        updateButtons();
    });
    for (QAbstractItemModel *m : {static_cast<QAbstractItemModel *>(releases->releases()), static_cast<QAbstractItemModel *>(releases->rollouts())}) {
        connect(m, &QAbstractItemModel::rowsInserted, this, &ReleasesView::updateButtons);
        connect(m, &QAbstractItemModel::rowsRemoved, this, &ReleasesView::updateButtons);
    }

    connect(m_upload, &QPushButton::clicked, this, &ReleasesView::uploadBundle);
    connect(m_start, &QPushButton::clicked, this, &ReleasesView::startRollout);
    connect(m_pause, &QPushButton::clicked, this, [this] { m_releases->pause(selectedRollout()); });
    connect(m_resume, &QPushButton::clicked, this, [this] { m_releases->resume(selectedRollout()); });
    connect(m_abort, &QPushButton::clicked, this, [this] {
        const QString id = selectedRollout();
        if (QMessageBox::warning(this, tr("Abort rollout"), tr("Abort rollout %1? Boxes not offered yet will not get it.").arg(id),
                                 QMessageBox::Abort | QMessageBox::Cancel, QMessageBox::Cancel)
            == QMessageBox::Abort)
            m_releases->abort(id);
    });
    connect(m_rolloutTable->selectionModel(), &QItemSelectionModel::currentRowChanged, this, [this](const QModelIndex &i) {
        if (i.isValid())
            m_releases->select(m_releases->rollouts()->rowObject(i.row()).value(u"id").toVariant().toString());
        updateButtons();
        drawGroups();
    });
    connect(releases, &ReleaseController::rolloutChanged, this, [this] {
        updateButtons();
        drawGroups();
    });
    connect(releases->groups(), &QAbstractItemModel::dataChanged, this, &ReleasesView::drawGroups);
    connect(releases->groups(), &QAbstractItemModel::rowsInserted, this, &ReleasesView::drawGroups);
    connect(client->permissions(), &Permissions::changed, this, &ReleasesView::updateButtons);
    connect(releases->rollouts(), &QAbstractItemModel::rowsInserted, this, [this] {
        if (!m_rolloutTable->currentIndex().isValid() && m_releases->rollouts()->rowCount())
            m_rolloutTable->selectRow(0);
    });
    updateButtons();
}

QString ReleasesView::selectedRollout() const
{
    return m_releases->selected();
}

void ReleasesView::updateButtons()
{
    const bool can = m_client->permissions()->canManageReleases() && m_releases->isAvailable();
    m_noReleases->setVisible(m_releases->releases()->rowCount() == 0);
    m_noRollouts->setVisible(m_releases->rollouts()->rowCount() == 0);
    const QString state = m_releases->rollout(selectedRollout()).value(u"state").toString();
    m_upload->setEnabled(can);
    m_start->setEnabled(can && m_releases->releases()->rowCount() > 0);
    m_pause->setEnabled(can && state == u"running");
    m_resume->setEnabled(can && (state == u"paused" || state == u"halted" || state == u"draft"));
    m_abort->setEnabled(can && (state == u"running" || state == u"paused" || state == u"halted" || state == u"draft"));
    for (QPushButton *b : {m_upload, m_start, m_pause, m_resume, m_abort})
        b->setToolTip(can ? QString() : tr("Needs the admin role"));
}

void ReleasesView::drawGroups()
{
    const QJsonObject r = m_releases->rollout(selectedRollout());
    QChart *chart = m_groupChart->chart();
    chart->removeAllSeries();
    for (QAbstractAxis *a : chart->axes())
        chart->removeAxis(a);
    if (r.isEmpty()) {
        m_rolloutTitle->setText(tr("No rollout selected"));
        return;
    }
    const QLocale l;
    m_rolloutTitle->setText(tr("<b>Rollout %1</b> · %2 to %3 · %4 · %5 of %6 boxes succeeded, %7 failed")
                                .arg(r.value(u"id").toVariant().toString(), r.value(u"version").toString(), r.value(u"channel").toString(),
                                     r.value(u"state").toString(), l.toString(r.value(u"succeeded").toInt()),
                                     l.toString(r.value(u"total").toInt()), l.toString(r.value(u"failed").toInt())));
    auto *ok = new QBarSet(tr("succeeded"));
    auto *bad = new QBarSet(tr("failed"));
    auto *busy = new QBarSet(tr("installing"));
    auto *waiting = new QBarSet(tr("waiting"));
    ok->setColor(QColor(0x2e, 0xa0, 0x43));
    bad->setColor(QColor(0xc0, 0x39, 0x2b));
    busy->setColor(QColor(0xe0, 0xa0, 0x20));
    waiting->setColor(QColor(0xcf, 0xd4, 0xda));
    QStringList categories;
    const QJsonArray groups = r.value(u"groups").toArray();
    for (qsizetype i = groups.size() - 1; i >= 0; --i) { // first group on top
        const QJsonObject g = groups.at(i).toObject();
        categories.append(tr("Group %1").arg(g.value(u"index").toInt() + 1));
        *ok << g.value(u"succeeded").toInt();
        *bad << g.value(u"failed").toInt();
        *busy << g.value(u"offered").toInt() + g.value(u"installing").toInt();
        *waiting << g.value(u"pending").toInt() + g.value(u"skipped").toInt();
    }
    auto *series = new QHorizontalStackedBarSeries;
    series->append({ok, bad, busy, waiting});
    chart->addSeries(series);
    auto *y = new QBarCategoryAxis;
    y->append(categories);
    auto *x = new QValueAxis;
    x->setLabelFormat(u"%d"_qs);
    chart->addAxis(y, Qt::AlignLeft);
    chart->addAxis(x, Qt::AlignBottom);
    series->attachAxis(y);
    series->attachAxis(x);
}

void ReleasesView::uploadBundle()
{
    const QString path = QFileDialog::getOpenFileName(this, tr("Signed release bundle"), QString(),
                                                      tr("Release bundles (*.bundle *.tar.zst *.iptvpkg);;All files (*)"));
    if (path.isEmpty())
        return;
    const BundleInfo info = m_releases->inspect(path);
    if (!info.ok) {
        QMessageBox::critical(this, tr("Not a release bundle"), tr("%1 cannot be read as a signed bundle:\n%2").arg(path, info.error));
        return;
    }
    const QLocale l;
    const QJsonObject m = info.manifest;
    QString text = tr("<table>"
                      "<tr><td><b>Version</b></td><td>%1</td></tr>"
                      "<tr><td><b>Channel</b></td><td>%2</td></tr>"
                      "<tr><td><b>Minimum box version</b></td><td>%3</td></tr>"
                      "<tr><td><b>Files</b></td><td>%4 (%5)</td></tr>"
                      "<tr><td><b>Signed by key</b></td><td>%6</td></tr>"
                      "<tr><td><b>Signature</b></td><td>%7</td></tr>"
                      "<tr><td><b>Bundle</b></td><td>%8</td></tr></table>")
                       .arg(m.value(u"version").toString(), m.value(u"channel").toString(),
                            m.value(u"minBoxVersion").toString(u"any"_qs), l.toString(info.files),
                            l.formattedDataSize(info.payloadBytes), info.keyId.toHtmlEscaped(),
                            info.signature == u"not-checked" ? tr("checked by the server on upload (no trusted key given)")
                            : info.signature == u"valid"       ? u"<span style='color:#2ea043'>valid</span>"_qs
                                                               : u"<span style='color:#c0392b'>"_qs + info.signatureText + u"</span>"_qs,
                            l.formattedDataSize(info.size));
    if (!m.value(u"notes").toString().isEmpty())
        text += u"<p>"_qs + m.value(u"notes").toString().toHtmlEscaped() + u"</p>"_qs;
    if (QMessageBox::question(this, tr("Upload release %1").arg(m.value(u"version").toString()), text) == QMessageBox::Yes)
        m_releases->upload(path);
}

void ReleasesView::startRollout()
{
    QDialog d(this);
    d.setWindowTitle(tr("Start a staged rollout"));
    auto *version = new QComboBox;
    for (const QJsonObject &r : m_releases->releases()->rows())
        version->addItem(r.value(u"version").toString() + u"  ("_qs + r.value(u"channel").toString() + u')', r.value(u"version").toString());
    auto *channel = new QComboBox;
    channel->addItem(u"experimental"_qs);
    channel->addItem(u"clean"_qs);
    auto *groups = new QLineEdit(u"1, 10, 50, 100"_qs);
    groups->setToolTip(tr("Cumulative percent of the channel's boxes reached after each group"));
    auto *success = new QDoubleSpinBox;
    success->setRange(1, 100);
    success->setValue(95);
    success->setSuffix(u" %"_qs);
    auto *error = new QDoubleSpinBox;
    error->setRange(0, 100);
    error->setValue(5);
    error->setSuffix(u" %"_qs);
    auto *minResults = new QSpinBox;
    minResults->setRange(1, 100000);
    minResults->setValue(20);
    auto *form = new QFormLayout(&d);
    form->addRow(tr("Release"), version);
    form->addRow(tr("Channel"), channel);
    form->addRow(tr("Groups (cumulative %)"), groups);
    form->addRow(tr("Open next group at"), success);
    form->addRow(tr("Halt above failures"), error);
    form->addRow(tr("…after results"), minResults);
    auto *buttons = new QDialogButtonBox(QDialogButtonBox::Cancel);
    buttons->addButton(tr("Start rollout"), QDialogButtonBox::AcceptRole);
    form->addRow(buttons);
    connect(buttons, &QDialogButtonBox::accepted, &d, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, &d, &QDialog::reject);
    if (d.exec() != QDialog::Accepted)
        return;
    RolloutRequest req;
    req.version = version->currentData().toString();
    req.channel = channel->currentText();
    req.groupPercents.clear();
    for (const QString &p : groups->text().split(u',', Qt::SkipEmptyParts))
        req.groupPercents.append(p.trimmed().toDouble());
    req.successThreshold = success->value() / 100;
    req.errorThreshold = error->value() / 100;
    req.minResults = minResults->value();
    m_releases->startRollout(req);
}

} // namespace cerberus::ui
