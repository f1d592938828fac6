"""Save dialogs that say what they do: a new folder for a checkpoint, files with their extension."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QDir
from PySide6.QtWidgets import QDialog, QFileDialog, QMessageBox, QWidget


class FolderDialog(QFileDialog):
    """Pick a folder to save into: an existing one (selected, or typed) or a new name, which is
    created. Qt's own save dialog cannot: choosing an existing folder only moved into it."""

    def __init__(self, parent: QWidget | None, title: str, suggested: str) -> None:
        super().__init__(parent, title, str(Path(suggested).parent))
        self.setOption(QFileDialog.Option.DontUseNativeDialog)  # (its accept() is ours)
        self.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)  # a new name can be typed
        self.setFileMode(QFileDialog.FileMode.AnyFile)
        self.setFilter(QDir.Filter.AllDirs | QDir.Filter.Drives | QDir.Filter.NoDotAndDotDot)  # folders
        self.setLabelText(QFileDialog.DialogLabel.Accept, "Save")
        self.setLabelText(QFileDialog.DialogLabel.FileName, "Folder:")
        self.selectFile(Path(suggested).name)

    def chosen(self) -> str:
        files = self.selectedFiles()
        return files[0] if files else ""

    def accept(self) -> None:
        if Path(self.chosen()).is_dir():
            QDialog.accept(self)  # an existing folder is the answer (Qt's save dialog moved into it)
            return
        super().accept()


def ask_new_folder(parent: QWidget, title: str, suggested: str) -> str:
    """A folder to write a model into, "" if cancelled. A new name is fine (it is created); an
    existing folder with files in it is used only after the user agrees to replace its model."""
    dialog = FolderDialog(parent, title, suggested)
    if dialog.exec() != QDialog.DialogCode.Accepted or not (path := dialog.chosen()):
        return ""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        QMessageBox.warning(parent, title, f"{folder} is a file; choose a name for a new folder.")
        return ""
    if folder.is_dir():  # (Qt's button reads "Open" on a folder: the question says what happens)
        count = sum(1 for _ in folder.iterdir())
        question = (
            f"“{folder.name}” already exists and holds {count} item(s).\n"
            "Replace the model files in it? (Other files are kept.)"
            if count
            else f"Save the model into the empty folder “{folder.name}”?"
        )
        answer = QMessageBox.question(
            parent,
            title,
            question,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return ""
    return str(folder)


def ask_file(parent: QWidget, title: str, suggested: str, kind: str, suffix: str) -> str:
    """A file path ending in `suffix` ("" if cancelled); asks before replacing a file whose name
    gained the suffix here (the dialog itself only asked about the name as typed)."""
    path, _ = QFileDialog.getSaveFileName(parent, title, suggested, f"{kind} (*{suffix})")
    if not path:
        return ""
    if not path.lower().endswith(suffix):
        path += suffix
        if Path(path).exists():
            answer = QMessageBox.question(
                parent,
                title,
                f"{Path(path).name} already exists. Replace it?",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.No,
            )
            if answer != QMessageBox.StandardButton.Yes:
                return ""
    return path
