"""Save dialogs that say what they do: a new folder for a checkpoint, files with their extension."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QDir
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QWidget,
)

# what each GGUF type costs and keeps, for the Save as GGUF dialog
GGUF_TYPES = {
    "F16": "16-bit floats: half the size of float32, runs everywhere (the usual choice)",
    "BF16": "bfloat16: half the size, float32's range (newer CPUs and GPUs)",
    "F32": "32-bit floats: exactly the weights as they are here, twice the size",
    "Q8_0": "8-bit blocks: a quarter of float32's size, logits within about 0.02",
}


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


class GGUFSaveDialog(QDialog):
    """Save the model as GGUF: a file (with Browse…) and the type its matrices are stored in."""

    def __init__(self, suggested: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Save model as GGUF")
        self.file = QLineEdit(suggested)
        self.file.setMinimumWidth(420)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._on_browse_clicked)
        row = QHBoxLayout()
        row.addWidget(self.file, 1)
        row.addWidget(browse)
        self.type_box = QComboBox()
        for name, what in GGUF_TYPES.items():
            self.type_box.addItem(f"{name} — {what}", name)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.save_button = buttons.button(QDialogButtonBox.StandardButton.Save)
        self.file.textChanged.connect(lambda text: self.save_button.setEnabled(bool(text.strip())))
        form = QFormLayout(self)
        form.addRow("File:", row)
        form.addRow("Type:", self.type_box)
        form.addRow(buttons)

    @property
    def path(self) -> str:
        text = self.file.text().strip()
        return text if not text or text.lower().endswith(".gguf") else text + ".gguf"

    @property
    def kind(self) -> str:
        return str(self.type_box.currentData())

    def _on_browse_clicked(self) -> None:
        path = ask_file(self, "Save model as GGUF", self.path, "GGUF model", ".gguf")
        if path:
            self.file.setText(path)

    def accept(self) -> None:
        """A file that exists is replaced only after a yes (Browse… asked already for its choice)."""
        if Path(self.path).exists():
            answer = QMessageBox.question(
                self, "Save model as GGUF", f"{Path(self.path).name} already exists. Replace it?",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No,
            )  # fmt: skip
            if answer != QMessageBox.StandardButton.Yes:
                return
        super().accept()
