import java.util.ArrayList;
import java.util.List;

public class TicTacToe {

    public static final char EMPTY = '.';
    private static final int[][] LINES = {
        {0, 1, 2}, {3, 4, 5}, {6, 7, 8},
        {0, 3, 6}, {1, 4, 7}, {2, 5, 8},
        {0, 4, 8}, {2, 4, 6}
    };

    private final char[] cells = new char[9];
    private char turn = 'X';
    private int movesMade;

    public TicTacToe() {
        reset();
    }

    public void reset() {
        for (int i = 0; i < cells.length; i++) {
            cells[i] = EMPTY;
        }
        turn = 'X';
        movesMade = 0;
    }

    public char getTurn() {
        return turn;
    }

    public char cellAt(int row, int col) {
        checkBounds(row, col);
        return cells[row * 3 + col];
    }

    private static void checkBounds(int row, int col) {
        if (row < 0 || row > 2 || col < 0 || col > 2) {
            throw new IndexOutOfBoundsException("Cell out of range: " + row + "," + col);
        }
    }

    public boolean play(int row, int col) {
        checkBounds(row, col);
        int index = row * 3 + col;
        if (cells[index] != EMPTY || isOver()) {
            return false;
        }
        cells[index] = turn;
        movesMade++;
        turn = turn == 'X' ? 'O' : 'X';
        return true;
    }

    public char winner() {
        for (int[] line : LINES) {
            char first = cells[line[0]];
            if (first != EMPTY && first == cells[line[1]] && first == cells[line[2]]) {
                return first;
            }
        }
        return EMPTY;
    }

    public boolean isDraw() {
        return movesMade == 9 && winner() == EMPTY;
    }

    public boolean isOver() {
        return winner() != EMPTY || movesMade == 9;
    }

    public List<Integer> freeCells() {
        List<Integer> free = new ArrayList<>();
        for (int i = 0; i < cells.length; i++) {
            if (cells[i] == EMPTY) {
                free.add(i);
            }
        }
        return free;
    }

    private int score(char player, int depth) {
        char w = winner();
        if (w == player) {
            return 10 - depth;
        }
        if (w != EMPTY) {
            return depth - 10;
        }
        if (movesMade == 9) {
            return 0;
        }
        boolean maximizing = turn == player;
        int best = maximizing ? Integer.MIN_VALUE : Integer.MAX_VALUE;
        for (int index : freeCells()) {
            applyMove(index);
            int value = score(player, depth + 1);
            undoMove(index);
            best = maximizing ? Math.max(best, value) : Math.min(best, value);
        }
        return best;
    }

    private void applyMove(int index) {
        cells[index] = turn;
        movesMade++;
        turn = turn == 'X' ? 'O' : 'X';
    }

    private void undoMove(int index) {
        cells[index] = EMPTY;
        movesMade--;
        turn = turn == 'X' ? 'O' : 'X';
    }

    public int bestMove() {
        if (isOver()) {
            return -1;
        }
        char player = turn;
        int bestIndex = -1;
        int bestScore = Integer.MIN_VALUE;
        for (int index : freeCells()) {
            applyMove(index);
            int value = score(player, 1);
            undoMove(index);
            if (value > bestScore) {
                bestScore = value;
                bestIndex = index;
            }
        }
        return bestIndex;
    }

    public String render() {
        StringBuilder sb = new StringBuilder();
        for (int row = 0; row < 3; row++) {
            for (int col = 0; col < 3; col++) {
                sb.append(cells[row * 3 + col]);
                if (col < 2) {
                    sb.append(' ');
                }
            }
            sb.append('\n');
        }
        return sb.toString();
    }

    public static void main(String[] args) {
        TicTacToe game = new TicTacToe();
        while (!game.isOver()) {
            int move = game.bestMove();
            game.play(move / 3, move % 3);
        }
        System.out.print(game.render());
        System.out.println(game.isDraw() ? "Draw" : "Winner: " + game.winner());
    }
}
