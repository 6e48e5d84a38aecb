import QtQuick
import Hubris.Native

// What will be recorded, and what will not and why: a conflict (too many recordings at once),
// a duplicate, a full keep limit, an episode the viewer skipped... with the other airings that
// could be recorded instead. Up/down choose, channel up/down page; red skips the episode of a
// series in focus, or cancels a recording of its own; green records a skipped episode again, or,
// on an airing left out, the other airing that fits instead; Back closes.
Rectangle {
    id: page
    objectName: "upcomingPage"
    signal closed()

    function open() { Dvr.refresh(); if (list.count > 0) list.currentIndex = 0 }
    // The row in focus: skipped by the viewer (green records it again), or one of a series (red skips it).
    readonly property var current: list.count > 0 && list.currentIndex >= 0 && Dvr.revision >= 0 ? Dvr.upcoming.get(list.currentIndex) : ({})
    readonly property bool currentSkipped: current.reason === "cancelled"
    // Skipping an episode means something only for one that would be recorded (or waits on a conflict).
    readonly property bool currentSkippable: (current.planned === true || current.reason === "conflict")
                                             && current.rule !== undefined && Dvr.ruleIsSeries(current.rule)
    // A recording of its own (not of a series): red cancels it, e.g. to make room for one in conflict.
    readonly property bool currentCancellable: !currentSkipped && current.rule !== undefined && current.rule !== 0 && !Dvr.ruleIsSeries(current.rule)
    // Left out, and another airing fits: green records that one instead.
    readonly property bool currentHasAlternative: current.planned === false && !currentSkipped && (current.alternative || "").length > 0
    // Channel up/down: a page of rows (as many as the list shows now) up or down.
    function pageBy(direction) {
        // The rows on screen: from the top edge, and up from the bottom edge past the spacing
        // between rows (or the empty space below a short list).
        const first = list.indexAt(1, list.contentY + 1)
        let last = -1
        for (let y = list.contentY + list.height - 1; last < 0 && y > list.contentY; y -= list.spacing + 1)
            last = list.indexAt(1, y)
        const rows = first >= 0 && last > first ? last - first : 1
        list.currentIndex = Math.max(0, Math.min(list.count - 1, list.currentIndex + direction * rows))
    }
    function handle(action) {
        switch (action) {
        case RemoteKeys.Up: list.decrementCurrentIndex(); return true
        case RemoteKeys.Down: list.incrementCurrentIndex(); return true
        case RemoteKeys.ChannelUp: pageBy(-1); return true
        case RemoteKeys.ChannelDown: pageBy(1); return true
        case RemoteKeys.Red:
            if (currentSkippable) Dvr.skipAiring(current.rule, current.channel, current.start, true)
            else if (currentCancellable) Dvr.cancelRule(current.rule)
            return true
        case RemoteKeys.Green:
            if (currentSkipped) Dvr.skipAiring(current.rule, current.channel, current.start, false)
            else if (currentHasAlternative) Dvr.recordAlternative(list.currentIndex)
            return true
        case RemoteKeys.Back: case RemoteKeys.Yellow: page.closed(); return true
        }
        return false
    }
    color: Theme.background

    Text {
        id: heading
        textFormat: Text.PlainText
        x: Theme.margin; y: 24
        text: qsTr("Upcoming recordings")
        color: Theme.text
        font.family: Theme.family; font.pixelSize: Theme.fontLarge; font.bold: true
    }
    Text {
        textFormat: Text.PlainText
        anchors.right: parent.right; anchors.rightMargin: Theme.margin; anchors.baseline: heading.baseline
        text: Dvr.upcoming.conflicts > 0 ? qsTr("%1 not recorded because of conflicts").arg(Dvr.upcoming.conflicts) : ""
        color: Theme.error
        font.family: Theme.family; font.pixelSize: Theme.fontNormal
    }
    ListView {
        id: list
        objectName: "upcomingList"
        anchors.top: heading.bottom; anchors.topMargin: 20; anchors.bottom: hint.top; anchors.bottomMargin: 12
        x: Theme.margin; width: parent.width - 2 * Theme.margin
        clip: true
        spacing: 6
        model: Dvr.upcoming
        highlightMoveDuration: 60
        delegate: Rectangle {
            id: row
            required property int index
            required property string title
            required property string when
            required property string channelName
            required property bool planned
            required property string reason
            required property string detail
            required property string why
            required property string alternatives
            required property var rule
            // Of a series (one airing may be planned by a recording of its own and a series: two rows).
            readonly property bool ofSeries: Dvr.revision >= 0 && Dvr.ruleIsSeries(rule)
            readonly property bool current: ListView.isCurrentItem
            width: list.width; height: column.implicitHeight + 24; radius: 6
            color: current ? Theme.cellNow : Theme.cell
            border.color: current ? Theme.focus : "transparent"; border.width: Theme.focusWidth
            Column {
                id: column
                x: 20; y: 12; width: parent.width - 40; spacing: 4
                Row {
                    spacing: 14; width: parent.width
                    Text { textFormat: Text.PlainText; text: row.planned ? "●" : "○"; color: row.planned ? Theme.error : Theme.dimText
                           font.family: Theme.family; font.pixelSize: Theme.fontNormal }
                    Text { textFormat: Text.PlainText; width: parent.width - 370; elide: Text.ElideRight; text: row.title
                           color: Theme.text; font.family: Theme.family; font.pixelSize: Theme.fontNormal; font.bold: row.current }
                    // A repeat of an episode recorded anyway is no trouble: said as such, not in the error colour.
                    readonly property bool repeat: row.reason === "duplicate" || row.reason === "already-recorded"
                    Text { textFormat: Text.PlainText; text: (row.planned ? qsTr("will be recorded") : row.reason === "cancelled" ? qsTr("skipped")
                                  : parent.repeat ? qsTr("repeat") : row.reason.replace(/-/g, " "))
                                 + (row.ofSeries ? qsTr(" · series") : "")
                           width: 310; horizontalAlignment: Text.AlignRight; elide: Text.ElideRight
                           color: row.planned || row.reason === "cancelled" || parent.repeat ? Theme.dimText : Theme.error
                           font.family: Theme.family; font.pixelSize: Theme.fontSmall }
                }
                Text { textFormat: Text.PlainText; text: row.when + "   " + row.channelName; color: Theme.dimText; font.family: Theme.family; font.pixelSize: Theme.fontSmall }
                Text { textFormat: Text.PlainText; visible: !row.planned && text.length > 0; width: parent.width; wrapMode: Text.Wrap
                       text: row.why.length > 0 ? row.why : row.detail // in a few words, in the viewer's time
                       color: Theme.text; font.family: Theme.family; font.pixelSize: Theme.fontSmall }
                Text { textFormat: Text.PlainText; visible: !row.planned && row.current && row.alternatives.length > 0; width: parent.width; wrapMode: Text.Wrap
                       text: qsTr("Also on:") + "\n" + row.alternatives
                       color: Theme.accent; font.family: Theme.family; font.pixelSize: Theme.fontSmall }
            }
        }
    }
    Column {
        anchors.centerIn: list
        visible: list.count === 0
        spacing: 10
        Text { textFormat: Text.PlainText; anchors.horizontalCenter: parent.horizontalCenter
               text: Dvr.status.length > 0 ? qsTr("Recordings are unavailable") : qsTr("Nothing to record")
               color: Theme.text; font.family: Theme.family; font.pixelSize: Theme.fontLarge }
        Text { textFormat: Text.PlainText; anchors.horizontalCenter: parent.horizontalCenter
               width: Math.min(implicitWidth, page.width - 4 * Theme.margin); wrapMode: Text.Wrap; horizontalAlignment: Text.AlignHCenter
               text: Dvr.status; visible: text.length > 0
               color: Theme.dimText; font.family: Theme.family; font.pixelSize: Theme.fontNormal }
    }
    Text {
        id: hint
        anchors.bottom: parent.bottom; anchors.bottomMargin: 16; x: Theme.margin
        width: parent.width - 2 * Theme.margin; elide: Text.ElideRight
        textFormat: Text.StyledText
        text: Theme.keys(page.currentSkipped ? qsTr("▲▼ choose   CH+/CH− page   ● green record this episode again   Back close")
              : qsTr("▲▼ choose   CH+/CH− page   ")
                + (page.currentHasAlternative ? qsTr("● green record %1 instead   ").arg(page.current.alternative) : "")
                + (page.currentSkippable ? qsTr("● red skip this episode   ") : page.currentCancellable ? qsTr("● red cancel   ") : "") + qsTr("Back close"))
        color: Theme.dimText
        font.family: Theme.family; font.pixelSize: 18
    }
}
