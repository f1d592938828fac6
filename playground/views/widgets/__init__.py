"""Parts the tabs share: heatmaps and their mosaic, token chips, charts, figure export, save dialogs,
work off the GUI thread, budgeted redraws, and example text."""
