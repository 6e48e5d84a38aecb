import QtQuick
import Hubris.Native

// The guide grid: channels down, time across, from the guide in memory. Only the rows on screen
// are drawn (GuideGridView), each from the airings of its visible time span only, so 1,000
// channels x 14 days never become items. Left/right move by programme, up/down by channel,
// channel keys by page, red/green by day, yellow back to now, blue favourites only, digits a
// channel's number (its row at now), OK opens the details. Channels and programmes the parental control hides are not shown (GridChannels, and
// "Locked" cells whose OK asks for the PIN).
Item {
    id: page
    objectName: "guidePage"
    signal closed()
    signal openDetails(int airing)
    signal unlock(int channel)

    // The focused airing ({} in a gap): the header shows it, OK opens it.
    readonly property var focusedAiring: grid.currentAiring

    // No background of its own: the window clears to Theme.background while the guide is shown
    // (Main.qml), which costs a software rasteriser nothing, a full-screen rectangle ~3 ms a frame.

    function open() { grid.open(Zapper.current) }
    // Focus on `ch` (a guide channel index) again, e.g. after rows appeared above it.
    function showChannel(ch) { grid.showChannel(ch) }
    // A channel number typed (NumberEntry): its row at the current time. False when the grid does
    // not show the channel (locked, or not a favourite while only favourites are shown).
    function jumpTo(ch) {
        const row = GridChannels.rowOfChannel(ch)
        if (row < 0 || GridChannels.channelAt(row) !== ch) return false
        grid.open(ch)
        return true
    }
    function handle(action) {
        switch (action) {
        case RemoteKeys.Left: grid.step(false); return true
        case RemoteKeys.Right: grid.step(true); return true
        case RemoteKeys.Up: grid.moveRows(-1); return true
        case RemoteKeys.Down: grid.moveRows(1); return true
        case RemoteKeys.ChannelUp: grid.moveRows(-grid.rowsOnScreen); return true
        case RemoteKeys.ChannelDown: grid.moveRows(grid.rowsOnScreen); return true
        case RemoteKeys.Red: grid.jumpDays(-1); return true
        case RemoteKeys.Green: grid.jumpDays(1); return true
        case RemoteKeys.Yellow: open(); return true
        case RemoteKeys.Blue: {
            // Favourites only, or all again: stay on the same channel when it is still shown.
            const was = grid.currentChannel
            GridChannels.favouritesOnly = !GridChannels.favouritesOnly
            grid.showChannel(was)
            return true
        }
        case RemoteKeys.Ok: case RemoteKeys.Info:
            if (focusedAiring.locked) page.unlock(grid.currentChannel)
            else if (focusedAiring.airing !== undefined) page.openDetails(focusedAiring.airing)
            return true
        case RemoteKeys.Back: case RemoteKeys.Guide: page.closed(); return true
        case RemoteKeys.Record: // network DVR: record the focused programme, again cancels
            if (focusedAiring.airing === undefined || focusedAiring.stop <= GuideGrid.now()) return true
            if (Dvr.markOf(focusedAiring.airing) !== "") Dvr.cancelAiring(focusedAiring.airing)
            else Dvr.recordAiring(focusedAiring.airing)
            return true
        }
        return false // digits: Main.qml types the number and calls jumpTo()
    }
    function clock(t) { return Qt.formatTime(new Date(t * 1000), "hh:mm") }

    // Header: the day and what is focused.
    Text {
        id: day
        textFormat: Text.PlainText
        x: Theme.margin; y: 24
        text: Qt.formatDate(new Date(grid.viewStart * 1000), "dddd d MMMM") + (GridChannels.favouritesOnly ? qsTr(" · Favourites") : "")
        color: Theme.text
        font.family: Theme.family; font.pixelSize: Theme.fontLarge; font.bold: true
    }
    // A channel number being typed ("1_"): in the header, right, so it covers neither the grid
    // nor the focused programme (which moves left of it).
    Rectangle {
        id: number
        objectName: "guideNumberOsd"
        visible: NumberEntry.active
        anchors.right: parent.right; anchors.rightMargin: Theme.margin
        anchors.verticalCenter: day.verticalCenter
        width: numberText.implicitWidth + 32; height: day.height + 8; radius: 8
        color: Theme.panelSolid
        border.color: Theme.focus; border.width: Theme.highContrast ? Theme.focusWidth : 0
        Text {
            id: numberText
            textFormat: Text.PlainText
            objectName: "guideNumberOsdText"
            anchors.centerIn: parent
            text: NumberEntry.display
            color: Theme.text
            font.family: Theme.family; font.pixelSize: Theme.fontLarge; font.bold: true; font.letterSpacing: 4
        }
    }
    Text {
        id: focusedTitle
        textFormat: Text.PlainText
        objectName: "guideFocusedTitle"
        anchors.right: number.visible ? number.left : parent.right
        anchors.rightMargin: number.visible ? 24 : Theme.margin
        anchors.baseline: day.baseline
        width: parent.width - day.width - 2 * Theme.margin - anchors.rightMargin - (number.visible ? number.width + Theme.margin : 0)
        horizontalAlignment: Text.AlignRight
        elide: Text.ElideLeft
        text: page.focusedAiring.title ? page.clock(page.focusedAiring.start) + "–" + page.clock(page.focusedAiring.stop)
                                         + "  " + page.focusedAiring.title : ""
        color: Theme.accent
        font.family: Theme.family; font.pixelSize: Theme.fontNormal
    }
    // The ruler, the channels and the programmes: one C++ item drawing the rows on screen with
    // scene-graph nodes (libs/hubris/guidegridview.h). A key moves its focus and view; it draws
    // again only the rows whose look changed, so a box rasterising in software (llvmpipe here)
    // paints a step in one frame without QML bindings or items per cell.
    GuideGridView {
        id: grid
        objectName: "guideGrid"
        anchors.top: day.bottom; anchors.topMargin: 16
        anchors.bottom: hint.top; anchors.bottomMargin: 8
        x: Theme.margin; width: parent.width - 2 * Theme.margin
        guide: GuideGrid
        channels: GridChannels
        dvr: Dvr
        span: 9000          // seconds across the grid (2.5 h)
        slot: 1800          // the ruler's step
        rowHeight: 64
        rulerHeight: 32
        channelColumn: 230
        font.family: Theme.family; font.pixelSize: Theme.fontSmall
        backgroundColor: Theme.background
        cellColor: Theme.cell
        cellNowColor: Theme.cellNow
        focusColor: Theme.focus
        focusWidth: Theme.focusWidth
        textColor: Theme.text
        dimTextColor: Theme.dimText
        accentColor: Theme.accent
        errorColor: Theme.error
    }
    Text {
        textFormat: Text.PlainText
        anchors.centerIn: grid
        visible: grid.rowCount === 0
        text: GridChannels.favouritesOnly ? qsTr("No favourite channels: yellow in the channel list marks one · blue shows all")
                                          : qsTr("No channels to show")
        color: Theme.dimText; font.family: Theme.family; font.pixelSize: Theme.fontNormal
    }
    Text {
        id: hint
        anchors.bottom: parent.bottom; anchors.bottomMargin: 16; x: Theme.margin
        textFormat: Text.StyledText
        text: Theme.keys(qsTr("OK details  ● red day back  ● green day forward  ● yellow now  ● blue favourites only  CH+/CH− page")
                         + (Dvr.enabled ? qsTr("  REC record") : ""))
        color: Theme.dimText
        font.family: Theme.family; font.pixelSize: 16
    }
}
