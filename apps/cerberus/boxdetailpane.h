#pragma once

// The right-hand pane of the fleet view: one box's state, live charts, event log, command
// history, and the screenshot and log viewers.

#include <cerberus/boxdetailcontroller.h>

#include <QWidget>

class QLabel;
class QPlainTextEdit;
class QPushButton;
class QTabWidget;
class QTableView;

namespace cerberus::ui {

class TimeChart;

class BoxDetailPane : public QWidget
{
    Q_OBJECT
public:
    BoxDetailPane(iptv::cerberus::BoxDetailController *controller, QWidget *parent = nullptr);
    QTabWidget *tabs() const { return m_tabs; }

private:
    void showDetail();
    void redraw();

    iptv::cerberus::BoxDetailController *m_controller;
    QLabel *m_title;
    QLabel *m_facts;
    QTabWidget *m_tabs;
    TimeChart *m_charts[iptv::cerberus::BoxDetailController::MetricCount] = {};
    QTableView *m_events;
    QTableView *m_commands;
    QLabel *m_screenshot;
    QPlainTextEdit *m_logs;
    QPushButton *m_shotButton;
    QPushButton *m_logsButton;
    QLabel *m_retrievalState;
};

} // namespace cerberus::ui
